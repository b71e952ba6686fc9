import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyctlError } from '../../errors.js';
import { openDatabase, type SqliteDatabase } from '../../state/state-db.js';
import type { Note } from './protocol.js';
import { shardFileName, shardIndexFor } from './shard-hash.js';

/** `<db>/layout.json`: written by the first process, checked by every later one. */
interface Layout {
  shards: number;
  hash: 'fnv1a32';
}

export class NoteNotFoundError extends ProxyctlError {
  constructor(readonly id: string) {
    super('PXC_ERR_UNKNOWN_NOTE', `no note with id "${id}"`);
    this.name = 'NoteNotFoundError';
  }
}

interface Shard {
  readonly db: SqliteDatabase;
  readonly list: Database.Statement<[], Note>;
  readonly read: Database.Statement<[string], Note>;
  readonly insert: Database.Statement<[Note]>;
  readonly update: Database.Statement<[{ id: string; title: string; body: string; updated_at: string }]>;
  readonly remove: Database.Statement<[string]>;
  readonly updateTx: (id: string, patch: { title?: string | undefined; body?: string | undefined }, now: string) => Note;
}

/**
 * Notes in K SQLite files (`<dir>/shard-<i>.db`), a note's file chosen by a
 * hash of its id. Several processes may open the same directory: each file is
 * WAL with a busy timeout (openDatabase), and a read-modify-write is one
 * IMMEDIATE transaction, so it is atomic across processes too.
 * Synchronous, like better-sqlite3; the server serialises calls around it.
 */
export class ShardedNoteStore {
  readonly dir: string;
  readonly shardCount: number;
  readonly #shards: Shard[] = [];

  constructor(dir: string, shardCount: number) {
    if (!Number.isInteger(shardCount) || shardCount < 1) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `--shards: must be a positive integer, got ${shardCount}`);
    this.dir = dir;
    this.shardCount = shardCount;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    checkLayout(dir, shardCount);
    try {
      for (let i = 0; i < shardCount; i++) this.#shards.push(openShard(join(dir, shardFileName(i))));
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The shard index of a note id (for stats). */
  shardOf(id: string): number {
    return shardIndexFor(id, this.shardCount);
  }

  /** Every note of every shard, oldest first (ties by id). */
  list(): Note[] {
    const all = this.#shards.flatMap((s) => s.list.all());
    return all.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  read(id: string): Note {
    const note = this.#shard(id).read.get(id);
    if (!note) throw new NoteNotFoundError(id);
    return note;
  }

  /** A new note with a random UUID; returns it and its shard index. */
  create(title: string, body: string): Note {
    const now = new Date().toISOString();
    const note: Note = { id: randomUUID(), title, body, created_at: now, updated_at: now };
    this.#shard(note.id).insert.run(note);
    return note;
  }

  update(id: string, patch: { title?: string | undefined; body?: string | undefined }): Note {
    return this.#shard(id).updateTx(id, patch, new Date().toISOString());
  }

  delete(id: string): void {
    if (this.#shard(id).remove.run(id).changes === 0) throw new NoteNotFoundError(id);
  }

  close(): void {
    for (const s of this.#shards) if (s.db.open) s.db.close();
  }

  #shard(id: string): Shard {
    return this.#shards[this.shardOf(id)]!;
  }
}

function openShard(path: string): Shard {
  const db = openDatabase(path);
  db.exec(`CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`);
  const read = db.prepare<[string], Note>('SELECT id, title, body, created_at, updated_at FROM notes WHERE id = ?');
  const update = db.prepare<[{ id: string; title: string; body: string; updated_at: string }]>('UPDATE notes SET title = @title, body = @body, updated_at = @updated_at WHERE id = @id');
  const tx = db.transaction((id: string, patch: { title?: string | undefined; body?: string | undefined }, now: string): Note => {
    const old = read.get(id);
    if (!old) throw new NoteNotFoundError(id);
    const next: Note = { ...old, title: patch.title ?? old.title, body: patch.body ?? old.body, updated_at: now };
    update.run({ id, title: next.title, body: next.body, updated_at: now });
    return next;
  });
  return {
    db,
    list: db.prepare<[], Note>('SELECT id, title, body, created_at, updated_at FROM notes'),
    read,
    insert: db.prepare<[Note]>('INSERT INTO notes (id, title, body, created_at, updated_at) VALUES (@id, @title, @body, @created_at, @updated_at)'),
    update,
    remove: db.prepare<[string]>('DELETE FROM notes WHERE id = ?'),
    updateTx: (id, patch, now) => tx.immediate(id, patch, now),
  };
}

function checkLayout(dir: string, shards: number): void {
  const path = join(dir, 'layout.json');
  const wanted: Layout = { shards, hash: 'fnv1a32' };
  // Written whole to a temp file, then linked into place: link() fails if the
  // layout exists, so only the first process's layout counts, and no reader
  // ever sees a half-written file.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(wanted) + '\n', { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  let found: Partial<Layout>;
  try {
    found = JSON.parse(readFileSync(path, 'utf8')) as Partial<Layout>;
  } catch (err) {
    throw new ProxyctlError('PXC_ERR_SHARD_LAYOUT', `${path}: unreadable shard layout (${(err as Error).message})`, { cause: err });
  }
  if (found.shards !== shards || found.hash !== wanted.hash) {
    throw new ProxyctlError('PXC_ERR_SHARD_LAYOUT', `${dir} holds ${found.shards} shards (${path}) but --shards is ${shards}; use --shards ${found.shards} or another --db`);
  }
}
