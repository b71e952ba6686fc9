import Database from 'better-sqlite3';
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyctlError } from '../errors.js';

/**
 * One agent per state dir. The lock is SQLite's own: `<state_dir>/agent.lock`
 * opened with `locking_mode=EXCLUSIVE` and an exclusive transaction, so the
 * connection holds an fcntl write lock on the file until it is closed. That is
 * real advisory locking without a native addon of our own (better-sqlite3 is
 * already here): the kernel drops it when the process dies, `kill -9`
 * included, so there is no stale-lock guessing by pid; and SQLite tracks its
 * locks per inode inside a process, so a second open of the file in the same
 * process (tests) is refused too instead of silently sharing the lock.
 *
 * A locked SQLite file cannot be read by the refused agent, so the holder
 * also writes `<state_dir>/agent.pid` (pid, then socket path) for the refusal
 * message. It is information only: the lock is the truth.
 */

export const LOCK_FILE = 'agent.lock';
export const OWNER_FILE = 'agent.pid';

export interface LockOwner {
  pid: number;
  socket: string;
}

export class StateDirLock {
  readonly #db: Database.Database;
  readonly #dir: string;

  private constructor(db: Database.Database, dir: string) {
    this.#db = db;
    this.#dir = dir;
  }

  /**
   * Takes the lock or throws PXC_ERR_STATE_LOCKED naming the holder's pid and
   * socket. The directory must exist (ensureDir).
   */
  static acquire(dir: string, owner: LockOwner): StateDirLock {
    const path = join(dir, LOCK_FILE);
    let db: Database.Database | undefined;
    try {
      createPrivate(path);
      db = new Database(path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      // Nothing is ever written but the header: no -journal file beside it.
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (err) {
      db?.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw lockedError(dir, readOwner(dir));
      throw new ProxyctlError('PXC_ERR_STATE_DIR', `state dir ${dir}: cannot lock ${path}: ${(err as Error).message}`, { cause: err });
    }
    const lock = new StateDirLock(db, dir);
    lock.#writeOwner(owner);
    return lock;
  }

  #writeOwner(owner: LockOwner): void {
    const tmp = join(this.#dir, `${OWNER_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, `${owner.pid}\n${owner.socket}\n`, { mode: 0o600 });
    renameSync(tmp, join(this.#dir, OWNER_FILE));
  }

  /** Releases the lock (the owner file stays: the next holder overwrites it). */
  release(): void {
    if (this.#db.open) this.#db.close();
  }
}

/**
 * Creates the lock file 0600 (SQLite would make it 0644) if it is missing.
 * Never opens an existing one: closing any descriptor of a file drops every
 * fcntl lock this process holds on it, the lock of a holder in this process
 * included.
 */
function createPrivate(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** The holder named in `agent.pid`, if it can be read. */
export function readOwner(dir: string): LockOwner | null {
  try {
    const [pid, socket] = readFileSync(join(dir, OWNER_FILE), 'utf8').split('\n');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && socket ? { pid: n, socket } : null;
  } catch {
    return null;
  }
}

function lockedError(dir: string, owner: LockOwner | null): ProxyctlError {
  const who = owner ? `another agent (pid ${owner.pid}, socket ${owner.socket})` : 'another agent';
  return new ProxyctlError('PXC_ERR_STATE_LOCKED', `${who} is already using the state dir ${dir}; stop it with 'proxyctl agent stop', or use another --state-dir`);
}
