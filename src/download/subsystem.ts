import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Subsystem, SubsystemContext } from '../agent/subsystem.js';
import { openDatabase, type SqliteDatabase } from '../state/state-db.js';
import { classifyFailure, type FailureEvidence, type ProxyFailureKind, type ProxyRouter } from '../upstream/api.js';
import { downloadCommands } from './commands.js';
import { Checkpointer } from './checkpointer.js';
import { DownloadManager } from './manager.js';
import { JobStore } from './store.js';

/** Where the queue lives and where relative destinations go, from the config. */
export function downloadPaths(config: Config, stateDir: string): { dbPath: string; dir: string } {
  const d = config.downloads;
  return {
    dbPath: d.db_path === null ? join(stateDir, 'state.db') : resolve(stateDir, d.db_path),
    dir: d.dir === null ? join(stateDir, 'downloads') : resolve(stateDir, d.dir),
  };
}

/**
 * Page size of a parts DB this subsystem creates: 4 MiB BLOBs commit ~5× faster with 64 KiB
 * pages than with 4 KiB ones; parts well under a megabyte would instead rewrite several
 * 64 KiB B-tree pages per commit, so they keep SQLite's default.
 */
const partsPageSize = (partSize: number): number => (partSize >= 1024 * 1024 ? 65536 : 4096);
/**
 * Checkpoint the WAL about every 64 MiB of parts rather than every 4 MiB (SQLite's default of
 * 1000 pages) when the checkpoints run in the commits (see Checkpointer for the usual way).
 */
const CHECKPOINT_BYTES = 64 * 1024 * 1024;
/** Parts committed between two background checkpoints (about the WAL's length). */
const BACKGROUND_CHECKPOINT_BYTES = 16 * 1024 * 1024;

/**
 * Opens the downloads DB. A file created now (a downloads.db_path of its own)
 * gets pages sized for the parts; state.db already exists with 64 KiB pages.
 */
function openDownloadsDb(path: string, partSize: number): SqliteDatabase {
  const db = openDatabase(path, { pageSize: partsPageSize(partSize) });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${Math.ceil(CHECKPOINT_BYTES / pageSize)}`);
  return db;
}

/**
 * The download queue subsystem. Every request goes through `router` (the
 * upstream proxy list); `classify` is cvmfs's failure classification.
 */
export function createDownloads(ctx: SubsystemContext, router: ProxyRouter, classify: (e: FailureEvidence) => ProxyFailureKind = classifyFailure): Subsystem {
  const paths = downloadPaths(ctx.config, ctx.stateDir);
  const logger = ctx.logger.child({ subsystem: 'downloads' });
  let db: SqliteDatabase | undefined;
  let manager: DownloadManager | undefined;
  let checkpointer: Checkpointer | undefined;
  return {
    name: 'downloads',
    async start() {
      db = openDownloadsDb(paths.dbPath, ctx.config.downloads.part_size);
      const ckpt = new Checkpointer(db, paths.dbPath, logger, BACKGROUND_CHECKPOINT_BYTES);
      checkpointer = ckpt;
      manager = new DownloadManager({
        store: new JobStore(db, { afterCommit: (n) => ckpt.committed(n) }),
        router,
        config: ctx.config.downloads,
        dir: paths.dir,
        dbDir: dirname(paths.dbPath),
        logger,
        stats: ctx.stats.scope('downloads'),
        classify,
      });
      ctx.registry.add(...downloadCommands(manager));
      manager.start();
    },
    async reload(config) {
      const next = downloadPaths(config, ctx.stateDir);
      if (next.dbPath !== paths.dbPath || next.dir !== paths.dir) logger.warn('downloads.db_path and downloads.dir apply at the next agent start');
      manager?.reload(config.downloads);
    },
    async close() {
      await manager?.close();
      await checkpointer?.close();
      if (db?.open) db.close();
    },
  };
}
