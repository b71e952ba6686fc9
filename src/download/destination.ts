import { existsSync } from 'node:fs';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
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
 * an absolute dest outside it only with downloads.allow_absolute. An existing
 * file is refused unless `force`.
 */
export function resolveDestination(url: URL, dest: string | undefined, rules: DestinationRules, force: boolean): string {
  let path: string;
  if (dest === undefined || dest === '') {
    const name = nameFromUrl(url);
    if (!name) throw new ProxyctlError('PXC_ERR_BAD_DEST', `cannot name the file after "${url.href}"; give a destination (dest=PATH)`);
    path = resolve(rules.dir, name);
  } else if (dest.includes('\0')) {
    throw new ProxyctlError('PXC_ERR_BAD_DEST', 'destination contains a NUL byte');
  } else if (isAbsolute(dest)) {
    path = resolve(dest);
    if (!inside(rules.dir, path) && !rules.allowAbsolute) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} is outside ${rules.dir} (set downloads.allow_absolute to allow)`);
  } else {
    path = resolve(rules.dir, dest);
    if (!inside(rules.dir, path)) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination "${dest}" leaves ${rules.dir}`);
  }
  if (path === rules.dir || path.endsWith(sep)) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} is a directory`);
  if (!force && existsSync(path)) throw new ProxyctlError('PXC_ERR_BAD_DEST', `destination ${path} already exists (use --force / force=1 to overwrite)`);
  return path;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
