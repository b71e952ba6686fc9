import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';

// The built module: worker threads load JavaScript (npm test builds first).
const STATE_DB = new URL('../../../dist/src/state/state-db.js', import.meta.url).href;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * Two threads (SQLite locks them as it does two processes) open one new file at
 * the same instant, released together by a barrier; resolves to their errors.
 */
async function race(path: string): Promise<string[]> {
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  const src = `const { workerData: { path, barrier, url } } = require('node:worker_threads');
    import(url).then(({ openDatabase }) => {
      Atomics.add(barrier, 0, 1);
      while (Atomics.load(barrier, 0) < 2) Atomics.wait(barrier, 0, Atomics.load(barrier, 0), 5);
      Atomics.notify(barrier, 0);
      openDatabase(path).close();
    });`;
  const errors = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<string | null>((resolve) => {
          const w = new Worker(src, { eval: true, workerData: { path, barrier, url: STATE_DB } });
          w.once('error', (err) => resolve(String((err as { code?: string }).code ?? err)));
          w.once('exit', () => resolve(null));
        }),
    ),
  );
  return errors.filter((e): e is string => e !== null);
}

describe('openDatabase', () => {
  it('lets two openers of one new file both switch it to WAL (no SQLITE_BUSY)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pxc-state-db-'));
    dirs.push(dir);
    const errors: string[] = [];
    for (let i = 0; i < 20; i++) errors.push(...(await race(join(dir, `${i}.db`))));
    expect(errors).toEqual([]);
  });
});
