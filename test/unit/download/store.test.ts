import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobStore } from '../../../src/download/store.js';
import { openDatabase, type SqliteDatabase } from '../../../src/state/state-db.js';

let dir: string;
let db: SqliteDatabase;
const open = (): JobStore => {
  dir ??= mkdtempSync(join(tmpdir(), 'pxc-store-'));
  db = openDatabase(join(dir, 'state.db'));
  return new JobStore(db);
};
afterEach(() => {
  if (db?.open) db.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined as unknown as string;
});

const job = (over: Partial<Parameters<JobStore['add']>[0]> = {}) => ({ index: null, url: 'http://o/f', dest: '/d/f', sha256: null, max_rate: 0, force: false, ...over });

describe('job store', () => {
  it('lists jobs with an index by index, then the others by arrival', () => {
    const s = open();
    const a = s.add(job({ url: 'http://o/a' }));
    const b = s.add(job({ url: 'http://o/b', index: 7 }));
    const c = s.add(job({ url: 'http://o/c', index: 2 }));
    const d = s.add(job({ url: 'http://o/d' }));
    expect(s.all().map((j) => j.id)).toEqual([c.id, b.id, a.id, d.id]);
  });

  it('commits each part with the byte count, and reads them back in order', () => {
    const s = open();
    const j = s.add(job());
    s.commitPart(j.id, 0, Buffer.from('hello '), 6);
    s.commitPart(j.id, 1, Buffer.from('world'), 11);
    expect(s.partsInfo(j.id)).toEqual({ count: 2, bytes: 11 });
    expect(s.get(j.id)!.bytes).toBe(11);
    const out: string[] = [];
    for (let p = s.nextPart(j.id, -1); p; p = s.nextPart(j.id, p.part)) out.push(p.data.toString());
    expect(out.join('')).toBe('hello world');
  });

  it('keeps committed parts and jobs across a reopen (the crash case)', () => {
    let s = open();
    const j = s.add(job({ sha256: 'a'.repeat(64) }));
    s.commitPart(j.id, 0, Buffer.alloc(4096, 1), 4096);
    s.setState(j.id, 'active');
    db.close();
    s = new JobStore((db = openDatabase(join(dir, 'state.db'))));
    expect(s.get(j.id)).toMatchObject({ state: 'active', bytes: 4096, sha256: 'a'.repeat(64) });
    expect(s.partsInfo(j.id).bytes).toBe(4096);
  });

  it('discarding parts zeroes the count', () => {
    const s = open();
    const j = s.add(job());
    s.commitPart(j.id, 0, Buffer.alloc(10), 10);
    s.discardParts(j.id);
    expect(s.partsInfo(j.id)).toEqual({ count: 0, bytes: 0 });
    expect(s.get(j.id)!.bytes).toBe(0);
  });

  it('finds the live job holding an index, ignoring cancelled ones', () => {
    const s = open();
    const j = s.add(job({ index: 3 }));
    expect(s.byIndex(3)?.id).toBe(j.id);
    s.setState(j.id, 'cancelled');
    expect(s.byIndex(3)).toBeUndefined();
  });
});

describe('job store sweep', () => {
  it('drops parts of done and cancelled jobs and of deleted jobs, keeping those of unfinished ones', () => {
    const s = open();
    const [a, b, c, d] = [s.add(job()), s.add(job()), s.add(job()), s.add(job())];
    for (const j of [a, b, c, d]) s.commitPart(j.id, 0, Buffer.alloc(8), 8);
    s.setState(a.id, 'done');
    s.setState(b.id, 'cancelled');
    s.setState(c.id, 'failed');
    s.commitPart(999, 0, Buffer.alloc(8), 8);
    expect(s.sweepParts()).toBe(3);
    expect(s.partsInfo(c.id).count).toBe(1);
    expect(s.partsInfo(d.id).count).toBe(1);
  });
});
