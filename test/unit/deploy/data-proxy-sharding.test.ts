import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShardedNoteStore } from '../../../src/deploy/data-proxy/note-store.js';
import { fnv1a32, shardFileName, shardId, shardIndexFor } from '../../../src/deploy/data-proxy/shard-hash.js';
import { ProxyctlError } from '../../../src/errors.js';

const dirs: string[] = [];
const stores: ShardedNoteStore[] = [];
function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'pxc-notes-'));
  dirs.push(d);
  return join(d, 'db');
}
function store(dir: string, k: number): ShardedNoteStore {
  const s = new ShardedNoteStore(dir, k);
  stores.push(s);
  return s;
}

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('shard hashing', () => {
  it('is FNV-1a 32-bit over the UTF-8 bytes of the id', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // non-ASCII ids hash their UTF-8 bytes (é = c3 a9), not UTF-16 code units
    const reference = (bytes: number[]) => bytes.reduce((h, b) => ((h ^ BigInt(b)) * 0x01000193n) & 0xffffffffn, 0x811c9dc5n);
    expect(BigInt(fnv1a32('é'))).toBe(reference([0xc3, 0xa9]));
    expect(BigInt(fnv1a32('note-42'))).toBe(reference([...Buffer.from('note-42')]));
  });

  it('maps an id to the same shard every time, within 0..K-1', () => {
    for (let i = 0; i < 200; i++) {
      const id = randomUUID();
      const k = 1 + (i % 7);
      const s = shardIndexFor(id, k);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(k);
      expect(shardIndexFor(id, k)).toBe(s);
    }
  });

  it('spreads random UUIDs evenly over the shards', () => {
    const k = 4;
    const n = 8000;
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) counts[shardIndexFor(randomUUID(), k)]!++;
    for (const c of counts) expect(Math.abs(c - n / k)).toBeLessThan((n / k) * 0.1);
  });

  it('names shard i "shard-i", stored in shard-i.db', () => {
    expect(shardId(3)).toBe('shard-3');
    expect(shardFileName(3)).toBe('shard-3.db');
  });
});

describe('ShardedNoteStore', () => {
  it('keeps each note in the file its id hashes to', () => {
    const dir = tempDb();
    const s = store(dir, 3);
    const notes = Array.from({ length: 12 }, (_, i) => s.create(`t${i}`, `b${i}`));
    expect(readdirSync(dir).filter((f) => f.endsWith('.db')).sort()).toEqual(['shard-0.db', 'shard-1.db', 'shard-2.db']);
    for (let i = 0; i < 3; i++) {
      const db = new Database(join(dir, shardFileName(i)), { readonly: true });
      const ids = (db.prepare('SELECT id FROM notes').all() as Array<{ id: string }>).map((r) => r.id).sort();
      db.close();
      expect(ids).toEqual(notes.filter((n) => shardIndexFor(n.id, 3) === i).map((n) => n.id).sort());
    }
  });

  it('lists notes of every shard, oldest first', () => {
    const s = store(tempDb(), 4);
    const made = Array.from({ length: 10 }, (_, i) => s.create(`t${i}`, ''));
    const listed = s.list();
    expect(listed.map((n) => n.id).sort()).toEqual(made.map((n) => n.id).sort());
    for (let i = 1; i < listed.length; i++) expect(listed[i - 1]!.created_at <= listed[i]!.created_at).toBe(true);
  });

  it('updates only the fields given and refreshes updated_at', () => {
    const s = store(tempDb(), 2);
    const n = s.create('title', 'body');
    const u = s.update(n.id, { body: 'changed' });
    expect(u).toMatchObject({ id: n.id, title: 'title', body: 'changed', created_at: n.created_at });
    expect(s.read(n.id)).toEqual(u);
  });

  it('throws PXC_ERR_UNKNOWN_NOTE for a missing id on read, update and delete', () => {
    const s = store(tempDb(), 2);
    for (const f of [() => s.read('x'), () => s.update('x', { title: 't' }), () => s.delete('x')]) {
      expect(f).toThrow(expect.objectContaining({ code: 'PXC_ERR_UNKNOWN_NOTE' }));
    }
  });

  it('records K in layout.json and refuses a different K on the same directory', () => {
    const dir = tempDb();
    store(dir, 4).close();
    expect(JSON.parse(readFileSync(join(dir, 'layout.json'), 'utf8'))).toEqual({ shards: 4, hash: 'fnv1a32' });
    expect(() => new ShardedNoteStore(dir, 2)).toThrow(ProxyctlError);
    expect(() => new ShardedNoteStore(dir, 2)).toThrow(/holds 4 shards.*--shards is 2/);
    expect(store(dir, 4).shardCount).toBe(4);
  });

  it('lets two stores on one directory see each other’s writes', () => {
    const dir = tempDb();
    const a = store(dir, 4);
    const b = store(dir, 4);
    const n = a.create('shared', 'x');
    expect(b.read(n.id).title).toBe('shared');
    b.delete(n.id);
    expect(a.list()).toEqual([]);
  });
});
