import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ProxyctlError } from '../errors.js';

/** Parses and checks a download URL: http: or https: only. */
export function parseDownloadUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProxyctlError('PXC_ERR_BAD_URL', `invalid URL "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProxyctlError('PXC_ERR_BAD_URL', `unsupported scheme "${url.protocol.replace(/:$/, '')}" in "${raw}" (http and https only)`);
  if (!url.hostname) throw new ProxyctlError('PXC_ERR_BAD_URL', `no host in URL "${raw}"`);
  return url;
}

/** The file name a URL suggests: the last path segment, decoded. */
export function nameFromUrl(url: URL): string | null {
  let name: string;
  try {
    name = decodeURIComponent(basename(url.pathname));
  } catch {
    return null;
  }
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return null;
  return name;
}

export interface DestinationRules {
  /** downloads.dir, absolute. */
  dir: string;
  allowAbsolute: boolean;
}

/**
 * Where a job writes: a relative dest (or the URL's name) under downloads.dir;
 * an absolute dest outside it only with downloads.allow_absolute. A dest ending
 * in "/" names a directory, not a file, and is refused. Containment is checked
 * on the real path of the destination's parent, so a symlinked subdirectory
 * cannot lead out of downloads.dir. An existing file (or link) is refused
 * unless `force`.
 */
export function resolveDestination(url: URL, dest: string | undefined, rules: DestinationRules, force: boolean): string {
  let path: string;
  if (dest === undefined || dest === '') {
    const name = nameFromUrl(url);
    if (!name) throw new ProxyctlError('PXC_ERR_BAD_DEST', `cannot name the file after "${url.href}"; give a destination (dest=PATH)`);
    path = resolve(rules.dir, name);
  } else if (dest.includes('\0')) {
    throw new ProxyctlError('PXC_ERR_BAD_DEST', 'destination contains a NUL byte');
  } else if (dest.endsWith('/') || /(^|\/)\.{1,2}$/.test(dest)) {
    throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination "${dest}" names a directory; give a file name (e.g. ${join(dest, nameFromUrl(url) ?? 'file.bin')})`);
  } else if (isAbsolute(dest)) {
    path = resolve(dest);
    if (!inside(rules.dir, path) && !rules.allowAbsolute) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} is outside ${rules.dir} (set downloads.allow_absolute to allow)`);
  } else {
    path = resolve(rules.dir, dest);
    if (!inside(rules.dir, path)) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination "${dest}" leaves ${rules.dir}`);
  }
  if (path === rules.dir || path.endsWith(sep)) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} is a directory`);
  checkContained(path, rules);
  if (!force && lstatSync(path, { throwIfNoEntry: false })) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} already exists (use --force / force=1 to overwrite)`);
  return path;
}

/**
 * A destination under downloads.dir must stay there on the real path of its
 * parent (symlinks resolved). Checked when the job is added, when its partial
 * file is opened and before the final rename.
 */
export function checkContained(path: string, rules: DestinationRules): void {
  if (!inside(rules.dir, path)) return; // an allowed absolute destination: the operator's choice
  const realDir = realExisting(rules.dir);
  const realParent = realExisting(dirname(path));
  if (realParent !== realDir && !inside(realDir, realParent)) {
    throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} leaves ${rules.dir} through a symbolic link (its directory is really ${realParent})`);
  }
}

/**
 * Creates the destination's missing directories (0700) and checks containment
 * again on what now exists.
 */
export function prepareParent(path: string, rules: DestinationRules): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  checkContained(path, rules);
}

/** The real path of `p`, or of its longest existing ancestor joined with the rest. */
function realExisting(p: string): string {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return join(realpathSync(cur), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const up = dirname(cur);
      if (up === cur) return p;
      rest.push(basename(cur));
      cur = up;
    }
  }
}

/** `path` is strictly below `dir` (`..foo` is a name, `../foo` is not below). */
function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
