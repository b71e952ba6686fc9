import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { cleanupNginx, hasNginx, startNginx } from '../../helpers/nginx.js';
import { add, info, sha256File, waitJob } from './helpers.js';

/** kill -9 of a real agent mid-download, for both stores: only what was durable counts, and it is enough. */

const PART = 128 * 1024;

afterEach(async () => {
  await cleanupAgents();
  await cleanupNginx();
});


/** Bytes the job holds durably, as the DB says after a crash. */
function durableBytes(stateDir: string, id: number): number {
  const db = new Database(join(stateDir, 'state.db'), { readonly: true });
  try {
    return (db.prepare('SELECT bytes FROM download_jobs WHERE id = ?').get(id) as { bytes: number }).bytes;
  } finally {
    db.close();
  }
}

/** The suite for one store (crash-file.test.ts, crash-sqlite.test.ts: two files, so they run side by side). */
export function crashSuite(store: 'file' | 'sqlite'): void {
  describe.skipIf(!hasNginx())(`the ${store} store under kill -9`, () => {
    const config = { downloads: { store, part_size: PART }, proxy: { health_check: false } };

    it('five kills at random moments: the file ends byte-exact, each kill costing at most two parts (one committing, one arriving)', async () => {
      // nginx lets a new connection have a second's worth at once: each restart gets that much for free.
      const n = await startNginx({ limitRate: 512 * 1024 });
      const size = 4 * 1024 * 1024;
      const f = n.addFile('k.bin', size);
      let agent = await startAgent({ config, logLevel: 'info' });
      const id = await add(agent, { url: n.url('limited/k.bin'), sha256: f.sha256 });
      const partial = join(agent.stateDir, 'downloads', 'k.bin.partial');
      const losses: number[] = [];
      const held: number[] = [];
      for (let kill = 0; kill < 5; kill++) {
        const before = (await info(agent, id)).bytes;
        // A random moment once the job moves again.
        const moving = await waitJob(agent, id, (j) => (j.state === 'active' && j.bytes > before) || j.state !== 'active', 20_000);
        expect(moving.state, `kill ${kill}: ${moving.error}`).toBe('active');
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 220));
        await agent.kill9();
        // What the dead agent had received (written at its offsets) against what it had made durable.
        const received = existsSync(partial) ? statSync(partial).size : 0;
        const durable = durableBytes(agent.stateDir, id);
        expect(durable % PART).toBe(0);
        losses.push(received - durable);
        held.push(durable);
        agent = await startAgent({ config, stateDir: agent.stateDir, logLevel: 'info' });
      }
      const j = await waitJob(agent, id, undefined, 30_000);
      expect(j, String(j.error)).toMatchObject({ state: 'done', bytes: size, restarts: 0 });
      expect(sha256File(join(agent.stateDir, 'downloads', 'k.bin'))).toBe(f.sha256);
      for (const loss of losses) {
        expect(loss).toBeGreaterThanOrEqual(0);
        expect(loss).toBeLessThanOrEqual(2 * PART);
      }
      // Every restart asked for exactly the bytes after the durable ones, and nothing else was fetched twice.
      const starts = n.requests().slice(1).map((r) => (r.range === null ? 0 : Number(/^bytes=(\d+)-$/.exec(r.range)?.[1])));
      expect(starts).toEqual(held);
      expect(j.resumes).toBe(held.filter((h) => h > 0).length);
    }, 180_000);
  });
}
