import { realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { ProxyctlError } from '../errors.js';

/**
 * A policy module runs inside the agent, with the agent's privileges. So the
 * agent loads one only if nobody but its own user and root can change it:
 * the file (after symlinks) and every directory above it must be owned by
 * the agent's user or root and not writable by group or others. A directory
 * with the sticky bit (/tmp) may be writable by all: others cannot rename or
 * remove what they do not own in it. (OpenSSH's StrictModes, less strict
 * about sticky directories.)
 */

const STICKY = 0o1000;

/** Throws PXC_ERR_BAD_POLICY naming the path that someone else could change. */
export function assertTrustedModule(path: string, euid = process.geteuid?.() ?? 0): void {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    throw new ProxyctlError('PXC_ERR_BAD_POLICY', `proxy policy module ${path}: cannot load: ${(err as Error).message}`, { cause: err });
  }
  const problem = untrusted(real, statSync(real), false, euid);
  if (problem) throw new ProxyctlError('PXC_ERR_BAD_POLICY', `proxy policy module ${path}: refused: ${problem}; it would run with the agent's privileges`);
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const why = untrusted(dir, statSync(dir), true, euid);
    if (why) throw new ProxyctlError('PXC_ERR_BAD_POLICY', `proxy policy module ${path}: refused: ${why}; it would run with the agent's privileges`);
    if (dirname(dir) === dir) break;
  }
}

function untrusted(path: string, st: Stats, isDir: boolean, euid: number): string | null {
  if (st.uid !== euid && st.uid !== 0) return `${path} is owned by uid ${st.uid}, not by the agent's user (uid ${euid}) or root`;
  if ((st.mode & 0o022) === 0) return null;
  if (isDir && (st.mode & STICKY) !== 0) return null;
  return `${path} is writable by ${(st.mode & 0o002) !== 0 ? 'everyone' : 'its group'} (mode 0${(st.mode & 0o7777).toString(8)})`;
}
