// @ts-check
/**
 * The WAL checkpoint worker (src/download/checkpointer.ts starts it): its own
 * connection to the parts DB; on each message, PASSIVE checkpoints until fewer
 * than 64 pages are left behind (at most 4 passes), then one reply.
 *
 * JavaScript checked by tsc (allowJs, @ts-check) rather than TypeScript: a
 * worker thread loads a file with Node's own loader, which on Node 20 runs no
 * TypeScript, and this file must load the same from src/ (vitest) as from dist/.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @typedef {{ busy: number; log: number; checkpointed: number }} CheckpointRow */
/** @typedef {{ ready: true } | { error?: string }} CheckpointReply */

const port = parentPort;
if (!port) throw new Error('checkpoint-worker.js runs as a worker thread');
const { path } = /** @type {{ path: string }} */ (workerData);
const db = new Database(path);
db.pragma('busy_timeout = 5000');
/** @param {CheckpointReply} reply */
const reply = (reply) => port.postMessage(reply);
reply({ ready: true });
port.on('message', () => {
  try {
    for (let i = 0; i < 4; i++) {
      const r = /** @type {CheckpointRow[]} */ (db.pragma('wal_checkpoint(PASSIVE)'))[0];
      if (!r || r.busy || r.log - r.checkpointed < 64) break;
    }
    reply({});
  } catch (err) {
    reply({ error: err instanceof Error ? err.message : String(err) });
  }
});
