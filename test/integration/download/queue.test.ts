import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeOrigins, startOrigin, type TestOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { closeHarnesses, startHarness, type Harness } from './harness.js';
import { sha256File } from './helpers.js';

/** The queue and its control, in-process against the node test origin (it misbehaves on demand). */

const PART = 64 * 1024;
const config = (downloads: Record<string, unknown> = {}) => ({ downloads: { part_size: PART, max_retries: 2, ...downloads }, proxy: { backoff_init: 2, backoff_max: 10 } });

afterEach(async () => {
  await closeHarnesses();
  await closeOrigins();
});

async function setup(downloads: Record<string, unknown> = {}): Promise<{ h: Harness; origin: TestOrigin }> {
  return { origin: await startOrigin(), h: await startHarness(config(downloads)) };
}

const refusal = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error('expected an error');
};

describe('the download queue', () => {
  it('fails on a checksum mismatch, dropping its parts and leaving no file behind', async () => {
    const { h, origin } = await setup();
    origin.addFile('m.bin', 300 * 1024);
    const id = await h.add({ url: origin.url('m.bin'), sha256: 'ab'.repeat(32) });
    const j = await h.wait(id);
    expect(j).toMatchObject({ state: 'failed', bytes: 0 });
    expect(j.error).toMatch(/checksum mismatch/);
    expect(existsSync(join(h.dir, 'm.bin'))).toBe(false);
    expect(existsSync(join(h.dir, 'm.bin.partial'))).toBe(false);
  });

  it('fails at once on an origin 4xx with the status in error', async () => {
    const { h, origin } = await setup();
    const id = await h.add({ url: origin.url('missing.bin') });
    const j = await h.wait(id);
    expect(j).toMatchObject({ state: 'failed', attempts: 1 });
    expect(j.error).toMatch(/^HTTP 404 from 127\.0\.0\.1:\d+$/);
    expect(h.delays).toEqual([]);
  });

  it('retries an origin 5xx after the backoff (proxy.backoff_init doubling), then completes', async () => {
    const { h, origin } = await setup();
    const f = origin.addFile('r.bin', 100 * 1024);
    origin.switches.failStatus = 503;
    origin.switches.failCount = 2;
    const id = await h.add({ url: origin.url('r.bin'), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', attempts: 3 });
    expect(h.delays).toEqual([2000, 4000]);
    expect(sha256File(join(h.dir, 'r.bin'))).toBe(f.sha256);
  });

  it('gives up after downloads.max_retries on a persistent 5xx', async () => {
    const { h, origin } = await setup();
    origin.addFile('r.bin', 1000);
    origin.switches.failCount = 100;
    const id = await h.add({ url: origin.url('r.bin') });
    const j = await h.wait(id);
    expect(j).toMatchObject({ state: 'failed', attempts: 3 });
    expect(j.error).toMatch(/gave up after 2 retries: HTTP 503 from 127\.0\.0\.1:\d+/);
  });

  it('continues at the same offset when the connection drops mid-file, without waiting', async () => {
    const { h, origin } = await setup();
    const f = origin.addFile('d.bin', 1024 * 1024);
    origin.switches.dropAtByte = 300_000;
    const id = await h.add({ url: origin.url('d.bin'), sha256: f.sha256 });
    expect(await h.wait(id)).toMatchObject({ state: 'done', resumes: 1 });
    expect(sha256File(join(h.dir, 'd.bin'))).toBe(f.sha256);
    // The next request starts at the byte where the received ones end (what the cut socket still delivered), mid-part.
    const starts = origin.rangeStarts('d.bin');
    expect(starts).toHaveLength(1);
    expect(starts[0]).toBeGreaterThan(200_000);
    expect(starts[0]).toBeLessThanOrEqual(300_000);
    expect(h.delays).toEqual([]);
  });

  it('completes from an origin that cuts every response, since each attempt makes progress (the retry count resets)', async () => {
    const { h, origin } = await setup({ max_retries: 1 });
    const f = origin.addFile('cut.bin', 2 * 1024 * 1024);
    origin.switches.cutEvery = 200 * 1024;
    const id = await h.add({ url: origin.url('cut.bin'), sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j, String(j.error)).toMatchObject({ state: 'done' });
    expect(sha256File(join(h.dir, 'cut.bin'))).toBe(f.sha256);
    // Every attempt asked for the bytes after the last one's: each made progress. (Not exactly one
    // request per cut: what undici had buffered and not yet handed over when the connection broke is lost.)
    const starts = origin.requests.filter((r) => r.path === '/cut.bin').map((r) => (r.range === null ? 0 : Number(/^bytes=(\d+)-$/.exec(r.range)?.[1])));
    expect(starts[0]).toBe(0);
    for (let i = 1; i < starts.length; i++) expect(starts[i]!).toBeGreaterThan(starts[i - 1]!);
    expect(starts.length).toBeGreaterThanOrEqual(Math.ceil(f.data.length / (200 * 1024)));
    expect(j.attempts).toBeGreaterThan(2);
  });

  it('runs queued jobs one at a time (max_active 1), those with an index first by index, then by arrival', async () => {
    const { h, origin } = await setup();
    origin.addFile('x', 256 * 1024);
    for (const n of ['y', 'z', 'w']) origin.addFile(n, 1024);
    origin.switches.holdAt = 1000;
    const first = await h.add({ url: origin.url('x') });
    await h.wait(first, (j) => j.state === 'active');
    const ids = [await h.add({ url: origin.url('w') }), await h.add({ url: origin.url('z'), index: 9 }), await h.add({ url: origin.url('y'), index: 2 })];
    expect((await h.rpc('download.list', {})).filter((j) => j.state === 'active')).toHaveLength(1);
    origin.switches.holdAt = null;
    for (const id of [first, ...ids]) expect((await h.wait(id)).state).toBe('done');
    expect(origin.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/x', '/y', '/z', '/w']);
  });

  it('runs downloads.max_active jobs at once', async () => {
    const { h, origin } = await setup({ max_active: 2 });
    for (const n of ['a', 'b', 'c']) origin.addFile(n, 256 * 1024);
    origin.switches.holdAt = 1000;
    const ids = [await h.add({ url: origin.url('a') }), await h.add({ url: origin.url('b') }), await h.add({ url: origin.url('c') })];
    await waitFor('two jobs active', async () => (await h.rpc('download.list', {})).filter((j) => j.state === 'active').length === 2);
    expect((await h.info(ids[2]!)).state).toBe('queued');
    origin.switches.holdAt = null;
    for (const id of ids) expect((await h.wait(id)).state).toBe('done');
  });

  it('refuses a duplicate index with another URL, and treats the same URL as a no-op', async () => {
    const { h, origin } = await setup();
    origin.addFile('a', 10);
    origin.addFile('b', 10);
    const id = await h.add({ url: origin.url('a'), index: 1 });
    await h.rpc('download.pause', { id });
    expect(await h.rpc('download.add', { url: origin.url('a'), index: 1 })).toEqual({ id, existing: true, jobs: [{ id, existing: true }] });
    expect((await refusal(h.rpc('download.add', { url: origin.url('b'), index: 1 }))).code).toBe('PXC_ERR_DUPLICATE_INDEX');
    expect(await h.rpc('download.list', {})).toHaveLength(1);
  });

  it('adds the jobs of a list all together, or none when one is refused (naming which)', async () => {
    const { h, origin } = await setup();
    origin.addFile('a', 10);
    origin.addFile('b', 10);
    const e = await refusal(h.rpc('download.add', { jobs: [{ url: origin.url('a') }, { url: origin.url('b'), dest: '../out' }] }));
    expect(e).toMatchObject({ code: 'PXC_ERR_BAD_DEST', message: expect.stringMatching(/^jobs\[1\]: destination "\.\.\/out" leaves/) });
    expect(await h.rpc('download.list', {})).toEqual([]);
    expect((await refusal(h.rpc('download.add', { jobs: [{ url: origin.url('a') }, { url: origin.url('b'), dest: 'a' }] }))).message).toMatch(/two jobs of this request download to/);
    const r = await h.rpc('download.add', { jobs: [{ url: origin.url('a') }, { url: origin.url('b') }] });
    expect(r.jobs.map((j) => j.id)).toEqual([1, 2]);
    for (const j of r.jobs) expect((await h.wait(j.id)).state).toBe('done');
  });

  it('refuses every bad input with a clear error and changes nothing', async () => {
    const { h, origin } = await setup();
    origin.addFile('a', 10);
    mkdirSync(h.dir, { recursive: true });
    writeFileSync(join(h.dir, 'exists'), 'keep');
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ url: 'not a url' }, 'PXC_ERR_BAD_URL', /invalid URL/],
      [{ url: 'ftp://127.0.0.1/a' }, 'PXC_ERR_BAD_URL', /unsupported scheme "ftp"/],
      [{ urls: [origin.url('a'), 'gopher://x/a'] }, 'PXC_ERR_BAD_URL', /unsupported scheme "gopher"/],
      [{ url: origin.url('a'), urls: [origin.url('a')] }, 'PXC_ERR_BAD_PARAMS', /give url \(one\) or urls/],
      [{ url: origin.url('a'), sha256: 'xyz' }, 'PXC_ERR_BAD_PARAMS', /sha256 must be 64 hex digits/],
      [{ url: origin.url('a'), index: -1 }, 'PXC_ERR_BAD_PARAMS', /index must be a non-negative integer/],
      [{ url: origin.url('a'), connections: 17 }, 'PXC_ERR_BAD_PARAMS', /connections must be an integer from 1 to 16/],
      [{ url: origin.url('a'), max_rate: 'fast' }, 'PXC_ERR_BAD_PARAMS', /max_rate: "fast" is not a rate/],
      [{ url: origin.url('a'), headers: ['NoColon'] }, 'PXC_ERR_BAD_PARAMS', /header "NoColon": expected "Name: value"/],
      [{ url: origin.url('a'), headers: ['Range: bytes=0-1'] }, 'PXC_ERR_BAD_PARAMS', /header Range: not allowed/],
      [{ url: origin.url('a'), ca_file: 'ca.pem' }, 'PXC_ERR_BAD_PARAMS', /ca_file: "ca.pem" must be an absolute path/],
      [{ url: origin.url('a'), ca_file: '/nonexistent/ca.pem' }, 'PXC_ERR_BAD_PARAMS', /ca_file \/nonexistent\/ca.pem: cannot read \(ENOENT\)/],
      [{ url: origin.url('a'), dest: '/etc/passwd' }, 'PXC_ERR_BAD_DEST', /outside/],
      [{ url: origin.url('a'), dest: '../x' }, 'PXC_ERR_BAD_DEST', /leaves/],
      [{ url: origin.url('a'), dest: 'sub/dir/' }, 'PXC_ERR_BAD_DEST', /names a directory/],
      [{ url: origin.url('exists') }, 'PXC_ERR_BAD_DEST', /already exists/],
    ];
    for (const [params, code, msg] of cases) {
      const e = await refusal(h.rpc('download.add', params as never));
      expect(e.code, JSON.stringify(params)).toBe(code);
      expect(e.message).toMatch(msg);
    }
    for (const m of ['download.info', 'download.pause', 'download.resume', 'download.cancel', 'download.retry'] as const) {
      expect((await refusal(h.rpc(m, { id: 42 }))).code).toBe('PXC_ERR_UNKNOWN_JOB');
    }
    expect((await refusal(h.rpc('download.purge', { ids: [42] }))).code).toBe('PXC_ERR_UNKNOWN_JOB');
    expect(await h.rpc('download.list', {})).toEqual([]);
    expect(readFileSync(join(h.dir, 'exists'), 'utf8')).toBe('keep');
  });

  it('cancels a running job and deletes its parts; retry puts a failed job back', async () => {
    const { h, origin } = await setup();
    const f = origin.addFile('k.bin', 512 * 1024);
    origin.switches.holdAt = PART + 1000;
    const id = await h.add({ url: origin.url('k.bin') });
    await h.wait(id, (j) => j.bytes >= PART);
    await h.rpc('download.cancel', { id });
    expect(await h.wait(id)).toMatchObject({ state: 'cancelled', bytes: 0 });
    await waitFor('the partial file removed', () => !existsSync(join(h.dir, 'k.bin.partial')));
    expect(existsSync(join(h.dir, 'k.bin'))).toBe(false);

    origin.switches.holdAt = null;
    origin.switches.failStatus = 500;
    origin.switches.failCount = 3;
    const id2 = await h.add({ url: origin.url('k.bin'), sha256: f.sha256 });
    expect((await h.wait(id2)).state).toBe('failed');
    expect((await refusal(h.rpc('download.resume', { id: id2 }))).code).toBe('PXC_ERR_JOB_STATE');
    await h.rpc('download.retry', { id: id2 });
    expect((await h.wait(id2)).state).toBe('done');
    expect(sha256File(join(h.dir, 'k.bin'))).toBe(f.sha256);
  });

  it('keeps each job\'s attempts, resumes and restarts across an agent restart', async () => {
    const { h, origin } = await setup();
    const f = origin.addFile('c.bin', 512 * 1024);
    origin.switches.dropAtByte = 100_000;
    origin.switches.holdAt = 3 * PART + 1000;
    const id = await h.add({ url: origin.url('c.bin'), sha256: f.sha256 });
    await h.wait(id, (j) => j.resumes === 1 && j.bytes >= 3 * PART);
    await h.rpc('download.pause', { id });
    await h.wait(id, (j) => j.active_connections === 0);
    const again = await h.restart();
    expect(await again.info(id)).toMatchObject({ state: 'paused', attempts: 2, resumes: 1, restarts: 0 });
    origin.switches.holdAt = null;
    origin.switches.ignoreRange = true;
    await again.rpc('download.resume', { id });
    expect(await again.wait(id)).toMatchObject({ state: 'done', attempts: 3, resumes: 2, restarts: 1 });
    const third = await again.restart();
    expect(await third.info(id)).toMatchObject({ state: 'done', attempts: 3, resumes: 2, restarts: 1 });
  });

  it('sends the extra headers of a job, and shows their names only', async () => {
    const { h, origin } = await setup();
    const f = origin.addFile('h.bin', 1000);
    const id = await h.add({ url: origin.url('h.bin'), headers: ['Authorization: Bearer s3cret', 'User-Agent: mirror-sync/2'], sha256: f.sha256 });
    const j = await h.wait(id);
    expect(j).toMatchObject({ state: 'done', headers: ['Authorization', 'User-Agent'] });
    expect(JSON.stringify(j)).not.toMatch(/s3cret/);
    expect(origin.requests[0]!.headers).toMatchObject({ authorization: 'Bearer s3cret', 'user-agent': 'mirror-sync/2' });
  });
});
