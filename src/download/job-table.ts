import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../state/state-db.js';
import type { JobRecord, JobState, SourceRecord, StoreKind } from './job.js';

/**
 * The queue: one `download_jobs` row per job. The parts a job holds live in
 * its store's table (file-store.ts: the journal; sqlite-store.ts: the BLOBs).
 *
 * Rows from before stores, mirrors and per-job counters get the new columns by
 * ALTER TABLE: their parts are BLOBs (store "sqlite"), their one source is
 * `url` with the job's validators, their part size is that of their first part.
 */

interface JobRow {
  id: number;
  idx: number | null;
  url: string;
  sources: string | null;
  dest: string;
  sha256: string | null;
  state: JobState;
  bytes: number;
  total: number | null;
  part_size: number | null;
  store: StoreKind;
  connections: number | null;
  headers: string | null;
  ca_file: string | null;
  etag: string | null;
  last_modified: string | null;
  proxy: string | null;
  attempts: number;
  resumes: number;
  restarts: number;
  error: string | null;
  max_rate: number;
  force: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface NewJob {
  index: number | null;
  sources: readonly string[];
  dest: string;
  sha256: string | null;
  max_rate: number;
  force: boolean;
  store: StoreKind;
  connections: number | null;
  headers: ReadonlyArray<readonly [string, string]>;
  ca_file: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS download_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idx INTEGER,
  url TEXT NOT NULL,
  dest TEXT NOT NULL,
  sha256 TEXT,
  state TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0,
  total INTEGER,
  etag TEXT,
  last_modified TEXT,
  proxy TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  max_rate INTEGER NOT NULL DEFAULT 0,
  force INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS download_jobs_idx ON download_jobs (idx);
`;

/** Columns added since the first schema, with their definition for existing rows. */
const ADDED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['sources', 'TEXT'],
  ['part_size', 'INTEGER'],
  ['store', "TEXT NOT NULL DEFAULT 'sqlite'"],
  ['connections', 'INTEGER'],
  ['headers', 'TEXT'],
  ['ca_file', 'TEXT'],
  ['resumes', 'INTEGER NOT NULL DEFAULT 0'],
  ['restarts', 'INTEGER NOT NULL DEFAULT 0'],
  ['started_at', 'INTEGER'],
];

/** Columns `update` may set. */
export type JobFields = Partial<Pick<JobRecord, 'total' | 'part_size' | 'proxy' | 'attempts' | 'resumes' | 'restarts' | 'error' | 'bytes' | 'sources' | 'started_at'>>;

const toRecord = (r: JobRow): JobRecord => {
  const sources: SourceRecord[] = r.sources
    ? (JSON.parse(r.sources) as SourceRecord[])
    : [{ url: r.url, state: 'usable', etag: r.etag, last_modified: r.last_modified, bytes: 0, errors: 0, last_error: null }];
  return {
    id: r.id,
    index: r.idx,
    url: r.url,
    sources,
    dest: r.dest,
    sha256: r.sha256,
    state: r.state,
    bytes: r.bytes,
    total: r.total,
    part_size: r.part_size,
    store: r.store,
    connections: r.connections,
    headers: r.headers ? (JSON.parse(r.headers) as Array<[string, string]>) : [],
    ca_file: r.ca_file,
    proxy: r.proxy,
    attempts: r.attempts,
    resumes: r.resumes,
    restarts: r.restarts,
    error: r.error,
    max_rate: r.max_rate,
    force: r.force !== 0,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
  };
};

export class JobTable {
  readonly db: SqliteDatabase;
  readonly #insert: Database.Statement;
  readonly #get: Database.Statement<[number], JobRow>;
  readonly #all: Database.Statement<[], JobRow>;
  readonly #byIndex: Database.Statement<[number], JobRow>;
  readonly #countState: Database.Statement<[string], { n: number }>;
  readonly #setState: Database.Statement;
  readonly #remove: Database.Statement<[number]>;
  readonly #updates = new Map<string, Database.Statement>();

  constructor(db: SqliteDatabase) {
    this.db = db;
    db.exec(SCHEMA);
    const have = new Set((db.pragma('table_info(download_jobs)') as Array<{ name: string }>).map((c) => c.name));
    const added = ADDED_COLUMNS.filter(([name]) => !have.has(name));
    for (const [name, def] of added) db.exec(`ALTER TABLE download_jobs ADD COLUMN ${name} ${def}`);
    if (added.some(([name]) => name === 'part_size')) this.#legacyPartSizes();
    this.#insert = db.prepare(
      'INSERT INTO download_jobs (idx, url, sources, dest, sha256, state, max_rate, force, store, connections, headers, ca_file, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare('SELECT * FROM download_jobs WHERE id = ?');
    // Queue order: jobs with an index by index, then the others by arrival.
    this.#all = db.prepare('SELECT * FROM download_jobs ORDER BY idx IS NULL, idx, id');
    this.#byIndex = db.prepare("SELECT * FROM download_jobs WHERE idx = ? AND state != 'cancelled' ORDER BY id LIMIT 1");
    this.#countState = db.prepare('SELECT count(*) AS n FROM download_jobs WHERE state = ?');
    this.#setState = db.prepare('UPDATE download_jobs SET state = ?, error = ?, finished_at = ? WHERE id = ?');
    this.#remove = db.prepare('DELETE FROM download_jobs WHERE id = ?');
  }

  /** Jobs of the first schema held BLOB parts of the part size of their day: the first part says which. */
  #legacyPartSizes(): void {
    const hasParts = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'download_parts'").get();
    if (!hasParts) return;
    this.db.exec('UPDATE download_jobs SET part_size = (SELECT length(data) FROM download_parts p WHERE p.job_id = download_jobs.id AND p.part = 0) WHERE part_size IS NULL');
  }

  /** Inserts jobs in one transaction: all of them or none. */
  add(jobs: readonly NewJob[], now = Date.now()): JobRecord[] {
    const ids = this.db.transaction(() =>
      jobs.map((job) => {
        const sources: SourceRecord[] = job.sources.map((url) => ({ url, state: 'usable', etag: null, last_modified: null, bytes: 0, errors: 0, last_error: null }));
        const headers = job.headers.length > 0 ? JSON.stringify(job.headers) : null;
        const info = this.#insert.run(job.index, job.sources[0], JSON.stringify(sources), job.dest, job.sha256, 'queued', job.max_rate, job.force ? 1 : 0, job.store, job.connections, headers, job.ca_file, now);
        return Number(info.lastInsertRowid);
      }),
    )();
    return ids.map((id) => this.get(id)!);
  }

  get(id: number): JobRecord | undefined {
    const row = this.#get.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** Every job, in queue order. */
  all(): JobRecord[] {
    return this.#all.all().map(toRecord);
  }

  /** The live (not cancelled) job holding an index. */
  byIndex(index: number): JobRecord | undefined {
    const row = this.#byIndex.get(index);
    return row ? toRecord(row) : undefined;
  }

  countInState(state: JobState): number {
    return this.#countState.get(state)!.n;
  }

  setState(id: number, state: JobState, error: string | null = null, finishedAt: number | null = null): void {
    this.#setState.run(state, error, finishedAt, id);
  }

  /** Updates the given columns (statements are prepared once per set of columns). */
  update(id: number, fields: JobFields): void {
    const keys = Object.keys(fields).sort();
    if (keys.length === 0) return;
    const sig = keys.join(',');
    let stmt = this.#updates.get(sig);
    if (!stmt) {
      stmt = this.db.prepare(`UPDATE download_jobs SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`);
      this.#updates.set(sig, stmt);
    }
    const params: Record<string, unknown> = { ...fields, id };
    if (fields.sources) params.sources = JSON.stringify(fields.sources);
    stmt.run(params);
  }

  remove(id: number): void {
    this.#remove.run(id);
  }
}
