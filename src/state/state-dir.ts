import { chmodSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ProxyctlError } from '../errors.js';

/**
 * Creating and checking the agent's directories. Light on imports: the CLI's
 * `agent start --detach` uses it before any agent code is loaded.
 */

/**
 * Makes `dir` and its missing parents, one level at a time, mode 0700.
 *
 * Not `mkdirSync(dir, {recursive: true})`: on Node 20 that never returns for a
 * path the kernel refuses with ENOENT although the parent exists
 * (`/proc/nope`), spinning at 100 % CPU. Here every failure is one error
 * naming `what` and the path: `state dir /x/f/y: not a directory` when a
 * component is a file.
 */
export function ensureDir(dir: string, what: string): void {
  const target = resolve(dir);
  const missing: string[] = [];
  let p = target;
  for (;;) {
    const st = statOrNull(p, what, target);
    if (st) {
      if (!st.isDirectory()) throw new ProxyctlError('PXC_ERR_STATE_DIR', `${what} ${target}: not a directory${p === target ? '' : ` (${p} is a file)`}`);
      break;
    }
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST' && statOrNull(d, what, target)?.isDirectory()) continue; // made by someone else meanwhile
      throw new ProxyctlError('PXC_ERR_STATE_DIR', `${what} ${target}: cannot create ${d}: ${e.code ?? e.message}`, { cause: err });
    }
  }
}

function statOrNull(p: string, what: string, target: string): Stats | null {
  try {
    return statSync(p);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return null;
    if (e.code === 'ENOTDIR') throw new ProxyctlError('PXC_ERR_STATE_DIR', `${what} ${target}: not a directory`, { cause: err });
    throw new ProxyctlError('PXC_ERR_STATE_DIR', `${what} ${target}: ${e.code ?? e.message}`, { cause: err });
  }
}

/**
 * What the agent did about a state dir that group or others can enter: it
 * holds state.db (download URLs and bytes) and the logs. Owned by the agent's
 * user: tightened to 0700. Owned by someone else: left alone, with a warning.
 */
export interface StateDirModeReport {
  /** The mode found (permission bits). */
  mode: number;
  /** True when it was changed to 0700. */
  tightened: boolean;
  /** Owner uid when it is not ours (so not changed). */
  foreignOwner: number | null;
}

/** Tightens `dir` to 0700 when group/other have any access and we own it; null when it was fine. */
export function secureStateDir(dir: string): StateDirModeReport | null {
  const st = statSync(dir);
  const mode = st.mode & 0o7777;
  if ((mode & 0o077) === 0) return null;
  const euid = process.geteuid?.() ?? st.uid;
  if (st.uid !== euid) return { mode, tightened: false, foreignOwner: st.uid };
  chmodSync(dir, 0o700);
  return { mode, tightened: true, foreignOwner: null };
}

/** `0755`, as an operator writes a mode. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}
