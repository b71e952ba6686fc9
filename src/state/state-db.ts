import Database from 'better-sqlite3';
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDir } from './state-dir.js';

export type SqliteDatabase = Database.Database;

export const STATE_DB_PAGE_SIZE = 65536;

export interface OpenDatabaseOptions {
  /**
   * Page size of a file created now (it is fixed once the file is in WAL mode;
   * an existing file keeps its own). Large pages make multi-MiB BLOBs cheap.
   */
  pageSize?: number;
}

/**
 * Opens a SQLite file the way every proxyctl store wants it: WAL (readers never
 * block the writer, a crash loses at most the transaction in flight), a busy
 * timeout so two processes sharing a file wait instead of failing, and mode
 * 0600 (it holds download URLs and bytes, notes).
 */
export function openDatabase(path: string, opts: OpenDatabaseOptions = {}): SqliteDatabase {
  ensureDir(dirname(path), 'database dir');
  makePrivate(path);
  const db = new Database(path);
  // First: two processes opening one file at once (instances of a service started together on
  // one notes DB) must wait for each other, not fail with SQLITE_BUSY.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (opts.pageSize) db.pragma(`page_size = ${opts.pageSize}`);
  toWal(db);
  db.pragma('synchronous = NORMAL');
  return db;
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * Switches a new file to WAL. Both openers of a new file hold a shared lock and
 * want an exclusive one: SQLite answers one of them SQLITE_BUSY at once, without
 * the busy handler (waiting could deadlock), so that one retries here until the
 * other is done, within the busy timeout.
 */
function toWal(db: SqliteDatabase): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(RETRY_CELL, 0, 0, 10); // a synchronous sleep: opening is synchronous
    }
  }
}

const RETRY_CELL = new Int32Array(new SharedArrayBuffer(4));

/**
 * SQLite creates its files 0644 less the umask, and gives the -wal and -shm
 * files the mode of the database file: so the database file is created (or
 * narrowed, when ours and wider) to 0600 before SQLite opens it, and a -wal or
 * -shm left from an older run is narrowed too. An existing file is never
 * opened here: closing a descriptor of it would drop the fcntl locks of a
 * connection this process already has on it.
 */
function makePrivate(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const euid = process.geteuid?.();
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st && (st.mode & 0o077) !== 0 && st.uid === euid) chmodSync(p, st.mode & 0o700);
  }
}

/**
 * The agent's state DB (`<state_dir>/state.db`): a key/value table for run-time
 * settings that survive a restart (e.g. `proxy set` until `proxy reset`).
 * Subsystems needing tables of their own create them on `db`.
 */
export class StateStore {
  readonly db: SqliteDatabase;
  readonly #get: Database.Statement<[string], { value: string }>;
  readonly #set: Database.Statement<[string, string]>;
  readonly #del: Database.Statement<[string]>;

  constructor(path: string) {
    // 64 KiB pages: by default the download queue keeps its multi-MiB parts in this file too.
    this.db = openDatabase(path, { pageSize: STATE_DB_PAGE_SIZE });
    this.db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.#get = this.db.prepare('SELECT value FROM kv WHERE key = ?');
    this.#set = this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.#del = this.db.prepare('DELETE FROM kv WHERE key = ?');
  }

  get<T>(key: string): T | undefined {
    const row = this.#get.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(key: string, value: unknown): void {
    this.#set.run(key, JSON.stringify(value));
  }

  delete(key: string): void {
    this.#del.run(key);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
