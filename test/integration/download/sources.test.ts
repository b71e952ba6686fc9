import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/echo-server.js';
import { cleanupNginx, hasNginx, startNginx } from '../../helpers/nginx.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { closeHarnesses, startHarness } from './harness.js';
import { sha256File } from './helpers.js';

/** Segmented downloads and mirrors (aria2's -x and several URIs), and https origins, against nginx. */


const PART = 256 * 1024;
const config = (downloads: Record<string, unknown> = {}) => ({ downloads: { part_size: PART, max_retries: 1, ...downloads }, proxy: { backoff_init: 0.05, backoff_max: 0.1 } });

afterEach(async () => {
  await closeHarnesses();
  await cleanupNginx();
  await closeOrigins();
});

describe.skipIf(!hasNginx())('segmented and multi-source downloads', () => {
  it('fetches parts over 4 connections at once from an origin limiting each connection, each part once', async () => {
    // 1 MiB/s per response: a 256 KiB part takes the origin 250 ms (nginx's limit_rate gives each request a second's worth at once).
    const o = await startOrigin();
    o.switches.throttleBps = 1024 * 1024;
    const f = o.addFile('seg.bin', 4 * 1024 * 1024);
    const h = await startHarness(config({ connections: 4 }));
    const id = await h.add({ url: o.url('seg.bin'), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', bytes: f.data.length, connections: 4 });
    expect(sha256File(join(h.dir, 'seg.bin'))).toBe(f.sha256);
    const gets = o.requests.filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(16);
    expect(new Set(gets.map((r) => r.range)).size).toBe(16);
    expect(gets.every((r) => r.status === 206)).toBe(true);
    expect(o.bytesServed()).toBe(f.data.length);
    expect(o.mostAtOnce()).toBe(4);
  });

  it('skips a dead mirror among three, and says so in info with what each source delivered', async () => {
    const n = await startNginx();
    const f = n.addFile('a/m.bin', 3 * 1024 * 1024);
    n.addFile('b/m.bin', f.data);
    const dead = `http://127.0.0.1:${await freePort()}/m.bin`;
    const h = await startHarness(config({ connections: 3 }));
    const id = await h.add({ urls: [n.url('a/m.bin'), dead, n.url('b/m.bin')], sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j, String(j.error)).toMatchObject({ state: 'done' });
    expect(sha256File(join(h.dir, 'm.bin'))).toBe(f.sha256);
    const [a, d, b] = j.sources;
    expect(d).toMatchObject({ url: dead, state: 'skipped', bytes: 0, errors: 1, last_error: expect.stringMatching(/ECONNREFUSED from 127\.0\.0\.1/) });
    expect(a!.state).toBe('usable');
    expect(b!.state).toBe('usable');
    expect(a!.bytes + b!.bytes).toBe(f.data.length);
    expect(a!.bytes).toBeGreaterThan(0);
    expect(b!.bytes).toBeGreaterThan(0);
  });

  it('refuses a mirror whose file has another size, and completes from the others', async () => {
    const n = await startNginx();
    const f = n.addFile('a/s.bin', 2 * 1024 * 1024);
    n.addFile('b/s.bin', f.data.subarray(0, f.data.length - 1000));
    n.addFile('c/s.bin', f.data);
    const h = await startHarness(config({ connections: 3 }));
    const id = await h.add({ urls: [n.url('a/s.bin'), n.url('b/s.bin'), n.url('c/s.bin')], sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j, String(j.error)).toMatchObject({ state: 'done' });
    expect(sha256File(join(h.dir, 's.bin'))).toBe(f.sha256);
    expect(j.sources[1]).toMatchObject({ state: 'refused', bytes: 0, last_error: `size ${f.data.length - 1000} differs from the job's ${f.data.length}` });
  });

  it('refuses a mirror whose file has another size, naming why, and finishes from the other', async () => {
    const n = await startNginx();
    const f = n.addFile('a/x.bin', 1024 * 1024);
    n.addFile('b/x.bin', 1000);
    // Without Range on the first mirror (one connection from byte 0), the second still has to match.
    const h = await startHarness(config({ connections: 2 }));
    const id = await h.add({ urls: [n.url('a/x.bin'), n.url('b/x.bin')], sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j.state).toBe('done');
    expect(j.sources[1]!.state).toBe('refused');
    // Named by its size, or by its 416 when its first answer was to a range past its end.
    expect(j.sources[1]!.last_error).toMatch(new RegExp(`^(size 1000 differs from the job's ${1024 * 1024}|answered 416 to bytes from \\d+: its file is shorter)$`));
  });

  it('falls back to one connection from byte 0 when the server does not honour Range', async () => {
    const n = await startNginx();
    const f = n.addFile('nr.bin', 3 * 1024 * 1024);
    const h = await startHarness(config({ connections: 4 }));
    const id = await h.add({ url: n.url('norange/nr.bin'), sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j, String(j.error)).toMatchObject({ state: 'done', restarts: 0 });
    expect(sha256File(join(h.dir, 'nr.bin'))).toBe(f.sha256);
    const gets = n.requests();
    expect(gets).toHaveLength(1);
    expect(gets[0]).toMatchObject({ status: 200, bytes: f.data.length, range: `bytes=0-${PART - 1}` });
  });
});

describe.skipIf(!hasNginx())('https origins', () => {
  it('fails at once when the certificate is not trusted, naming --ca-file; completes with it', async () => {
    const n = await startNginx({ tls: true });
    const f = n.addFile('t.bin', 1024 * 1024);
    const h = await startHarness(config({ max_retries: 5 }));
    const bad = await h.add({ url: n.url('t.bin', { tls: true }), dest: 'untrusted.bin' });
    const j = await h.wait(bad);
    expect(j).toMatchObject({ state: 'failed', attempts: 1 });
    expect(j.error).toMatch(/^TLS certificate of 127\.0\.0\.1:\d+ not trusted: self.signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\); if it is signed by a private CA, trust it with --ca-file PATH \(or downloads\.ca_file\)$/);
    expect(h.delays).toEqual([]);
    const ok = await h.add({ url: n.url('t.bin', { tls: true }), ca_file: n.caPath!, sha256: f.sha256, connections: 2 });
    expect(await h.wait(ok)).toMatchObject({ state: 'done', ca_file: n.caPath });
    expect(sha256File(join(h.dir, 't.bin'))).toBe(f.sha256);
  });

  it('trusts downloads.ca_file (relative to the state dir) for every job', async () => {
    const n = await startNginx({ tls: true });
    const f = n.addFile('c.bin', 200 * 1024);
    const h = await startHarness(config({ ca_file: 'ca.pem' }));
    writeFileSync(join(h.stateDir, 'ca.pem'), (await import('node:fs')).readFileSync(n.caPath!));
    const id = await h.add({ url: n.url('c.bin', { tls: true }), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', ca_file: null });
  });
});
