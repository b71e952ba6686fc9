import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Subsystem, SubsystemContext, SubsystemParts } from '../agent/subsystem.js';
import { openDatabase, type SqliteDatabase } from '../state/state-db.js';
import type { ProxyRouter } from '../upstream/api.js';
import { downloadCommands } from './commands.js';
import { FileStore } from './file-store.js';
import { HashWorker } from './hash-worker.js';
import { JobTable } from './job-table.js';
import { DownloadManager, type QueueSettings } from './queue.js';
import { SqliteStore } from './sqlite-store.js';

/** Where the queue lives, where relative destinations go and which CAs jobs trust, from the config. */
export function downloadPaths(config: Config, stateDir: string): { dbPath: string; dir: string; caFile: string | null } {
  const d = config.downloads;
  return {
    dbPath: d.db_path === null ? join(stateDir, 'state.db') : resolve(stateDir, d.db_path),
    dir: d.dir === null ? join(stateDir, 'downloads') : resolve(stateDir, d.dir),
    caFile: d.ca_file === null ? null : resolve(stateDir, d.ca_file),
  };
}

/**
 * Page size of a database file this subsystem creates: multi-MiB BLOB parts (store
 * "sqlite") commit ~5× faster with 64 KiB pages than with 4 KiB ones.
 */
const partsPageSize = (partSize: number): number => (partSize >= 1024 * 1024 ? 65536 : 4096);
/** Checkpoint the WAL about every 64 MiB when the checkpoints run in the commits. */
const CHECKPOINT_BYTES = 64 * 1024 * 1024;
/** A database without incremental vacuum is converted (VACUUM) at start only while it holds this little. */
const CONVERT_LIMIT = 64 * 1024 * 1024;

function openDownloadsDb(path: string, partSize: number, log: Logger): SqliteDatabase {
  const db = openDatabase(path, { pageSize: partsPageSize(partSize) });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${Math.ceil(CHECKPOINT_BYTES / pageSize)}`);
  // Give space back: freed pages can be returned to the file system (see compact()).
  if ((db.pragma('auto_vacuum', { simple: true }) as number) !== 2) {
    const used = ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * pageSize;
    if (used <= CONVERT_LIMIT) {
      db.pragma('auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
    } else {
      log.warn({ db: path, bytes: used }, 'state DB without incremental vacuum: freed space comes back after a purge (VACUUM)');
    }
  }
  return db;
}

/**
 * Hands freed pages back to the file system and empties the WAL: when the queue goes
 * idle, and after a purge (a VACUUM for a database that cannot vacuum incrementally).
 */
function compact(db: SqliteDatabase, reason: 'idle' | 'purge', log: Logger): void {
  try {
    const free = db.pragma('freelist_count', { simple: true }) as number;
    if ((db.pragma('auto_vacuum', { simple: true }) as number) === 2) {
      if (free > 0) db.pragma('incremental_vacuum');
    } else if (reason === 'purge' && free > 0) {
      db.exec('VACUUM');
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (err) {
    log.warn({ err }, 'could not compact the state DB');
  }
}

/** downloads.dir: created 0700; a default one under the state dir is kept private (0700). */
function prepareDir(dir: string, isDefault: boolean, log: Logger): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (isDefault && (st.mode & 0o077) !== 0 && st.uid === (process.geteuid?.() ?? st.uid)) {
    chmodSync(dir, 0o700);
    log.warn({ dir, mode: (st.mode & 0o777).toString(8) }, 'downloads dir was group/other accessible; now 0700');
  }
}

/** What tests change: the wait between retries (a faster clock). */
export interface DownloadsHooks {
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The download queue subsystem. Every request goes through `router` (the upstream proxy list). */
export function createDownloads(ctx: SubsystemContext, router: ProxyRouter, hooks: DownloadsHooks = {}) {
  let paths = downloadPaths(ctx.config, ctx.stateDir);
  const logger = ctx.logger.child({ subsystem: 'downloads' });
  let db: SqliteDatabase | undefined;
  let manager: DownloadManager | undefined;
  let sqliteStore: SqliteStore | undefined;
  const hashers: HashWorker[] = [];
  const settings = (config: Config): QueueSettings => ({ config: config.downloads, dir: paths.dir, dbDir: dirname(paths.dbPath), caFile: paths.caFile });
  const subsystem: Subsystem = {
    name: 'downloads',
    async start() {
      const d = openDownloadsDb(paths.dbPath, ctx.config.downloads.part_size, logger);
      db = d;
      prepareDir(paths.dir, ctx.config.downloads.dir === null, logger);
      const table = new JobTable(d);
      const partHasher = new HashWorker();
      const fileHasher = new HashWorker();
      hashers.push(partHasher, fileHasher);
      let onBadPart = (): void => undefined;
      const fileStore = new FileStore(d, { table, partHasher, fileHasher, logger, onBadPart: () => onBadPart() });
      sqliteStore = new SqliteStore(d, { table, partHasher, fileHasher, logger, dbPath: paths.dbPath, onBadPart: () => onBadPart() });
      manager = new DownloadManager({
        table,
        stores: { file: fileStore, sqlite: sqliteStore },
        partHasher,
        fileHasher,
        router,
        settings: settings(ctx.config),
        logger,
        stats: ctx.stats.scope('downloads'),
        compact: (reason) => compact(d, reason, logger),
        events: ctx.events,
        ...(hooks.sleep ? { sleep: hooks.sleep } : {}),
      });
      onBadPart = manager.onBadPart;
      manager.start();
    },
    async reload(config) {
      const next = downloadPaths(config, ctx.stateDir);
      if (next.dbPath !== paths.dbPath || next.dir !== paths.dir) logger.warn('downloads.db_path and downloads.dir apply at the next agent start');
      paths = { ...paths, caFile: next.caFile };
      manager?.reload(settings(config));
    },
    async close() {
      await manager?.close();
      await sqliteStore?.close();
      await Promise.all(hashers.map((h) => h.close()));
      if (db?.open) db.close();
    },
  };
  // The queue opens its database in start(); the agent answers no command before every subsystem has started.
  const started = (): DownloadManager => {
    if (!manager) throw new Error('the download queue has not started');
    return manager;
  };
  return { subsystem, commands: downloadCommands(started), api: undefined } satisfies SubsystemParts;
}
