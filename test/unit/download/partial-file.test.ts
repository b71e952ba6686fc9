import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpointer } from '../../../src/download/checkpointer.js';
import { PartialFile } from '../../../src/download/partial-file.js';
import { JobStore } from '../../../src/download/store.js';
import { openDatabase, type SqliteDatabase } from '../../../src/state/state-db.js';

let dir: string | undefined;
let db: SqliteDatabase | undefined;
const setup = (pageSize?: number): { store: JobStore; dir: string; db: SqliteDatabase } => {
  dir = mkdtempSync(join(tmpdir(), 'pxc-partial-'));
  db = openDatabase(join(dir, 'state.db'), pageSize ? { pageSize } : {});
  return { store: new JobStore(db), dir, db };
};
afterEach(() => {
  if (db?.open) db.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  db = undefined;
});
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const job = { index: null, url: 'http://o/f', dest: '/d/f', sha256: null, max_rate: 0, force: false };

describe('PartialFile', () => {
  it('appends in order and seals with the size on disk and the sha256 of what was appended', async () => {
    const { dir } = setup();
    const path = join(dir, 'sub', 'f.partial');
    const pf = await PartialFile.create(path);
    const a = randomBytes(100_000);
    const b = randomBytes(33);
    const w1 = pf.append(a);
    const w2 = pf.append(b);
    await Promise.all([w1, w2]);
    expect(pf.bytes).toBe(100_033);
    const sealed = await pf.seal();
    const all = Buffer.concat([a, b]);
    expect(sealed).toEqual({ size: all.length, sha256: sha(all) });
    expect(readFileSync(path).equals(all)).toBe(true);
  });

  it('rebuild() replaces a file holding an uncommitted tail and garbage with exactly the committed parts', async () => {
    const { store, dir } = setup();
    const j = store.add(job);
    const p0 = randomBytes(4096);
    const p1 = randomBytes(1000);
    store.commitPart(j.id, 0, p0, 4096);
    store.commitPart(j.id, 1, p1, 5096);
    const path = join(dir, 'f.partial');
    // What a crash may leave: wrong bytes where the parts are, and a tail past them.
    writeFileSync(path, Buffer.alloc(9000, 0xee));
    const pf = await PartialFile.rebuild(path, store, j.id);
    expect(pf.bytes).toBe(5096);
    const more = randomBytes(10);
    await pf.append(more);
    const sealed = await pf.seal();
    const all = Buffer.concat([p0, p1, more]);
    expect(sealed).toEqual({ size: all.length, sha256: sha(all) });
    expect(readFileSync(path).equals(all)).toBe(true);
  });

  it('reset() truncates to 0 and restarts the hash; discard() deletes the file', async () => {
    const { dir } = setup();
    const path = join(dir, 'f.partial');
    const pf = await PartialFile.create(path);
    await pf.append(randomBytes(5000));
    await pf.reset();
    expect(pf.bytes).toBe(0);
    expect(statSync(path).size).toBe(0);
    const x = randomBytes(77);
    await pf.append(x);
    const pf2 = await PartialFile.create(join(dir, 'g.partial'));
    await pf2.discard();
    expect(existsSync(join(dir, 'g.partial'))).toBe(false);
    expect(await pf.seal()).toEqual({ size: 77, sha256: sha(x) });
  });

  it('a failed write breaks the file: later appends and seal reject with that error', async () => {
    const { dir } = setup();
    const pf2 = await PartialFile.create(join(dir, 'h.partial'));
    // Without its descriptor the next write fails, as one hitting ENOSPC would.
    await pf2.close();
    await expect(pf2.append(Buffer.alloc(10)).then(() => 'ok', () => 'rejected')).resolves.toBe('rejected');
    expect(pf2.broken).toBe(true);
    await expect(pf2.append(Buffer.alloc(10))).rejects.toBeTruthy();
  });
});

describe('Checkpointer', () => {
  it('keeps the WAL short while parts commit (checkpoints in a worker), and every part stays readable', async () => {
    const { dir, db } = setup(65536);
    const ckpt = new Checkpointer(db, join(dir, 'state.db'), pino({ level: 'silent' }), 1024 * 1024);
    const store = new JobStore(db, { afterCommit: (n) => ckpt.committed(n) });
    const j = store.add(job);
    const part = randomBytes(256 * 1024);
    let bytes = 0;
    const walSizes: number[] = [];
    // 48 MiB through a 1 MiB threshold: with no checkpoint the WAL would hold it all.
    for (let i = 0; i < 192; i++) {
      bytes += part.length;
      store.commitPart(j.id, i, part, bytes);
      if (i % 8 === 7) {
        await ckpt.settled();
        walSizes.push(statSync(join(dir, 'state.db-wal')).size);
      }
    }
    await ckpt.close();
    expect(store.partsInfo(j.id)).toEqual({ count: 192, bytes });
    expect(store.nextPart(j.id, 191)).toBeUndefined();
    expect(store.nextPart(j.id, 190)!.data.equals(part)).toBe(true);
    // The DB file received the parts, and the WAL did not grow with the download.
    expect(statSync(join(dir, 'state.db')).size).toBeGreaterThan(16 * 1024 * 1024);
    expect(Math.max(...walSizes)).toBeLessThan(24 * 1024 * 1024); // unbounded it reaches ~77 MB
  });
});
