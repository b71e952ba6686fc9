import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent, type TestAgent } from '../../helpers/agent.js';
import { closeOrigins, startOrigin, type TestOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { add, info, rpcError, sha256File, waitJob } from './helpers.js';

const PART = 64 * 1024;
const config = (extra: Record<string, unknown> = {}) => ({ downloads: { part_size: PART, max_retries: 2, ...extra } });

afterEach(async () => {
  await cleanupAgents();
  await closeOrigins();
});

async function setup(extra: Record<string, unknown> = {}): Promise<{ agent: TestAgent; origin: TestOrigin; dir: string }> {
  const origin = await startOrigin();
  const agent = await startAgent({ config: config(extra), logLevel: 'info' });
  return { agent, origin, dir: join(agent.stateDir, 'downloads') };
}

/** Starts a throttled download and pauses it once it holds at least `atLeast` bytes; returns the committed bytes. */
async function pausedAt(agent: TestAgent, origin: TestOrigin, id: number, atLeast: number): Promise<number> {
  await waitJob(agent, id, (j) => j.bytes >= atLeast);
  await agent.rpc('download.pause', { id });
  const j = await waitJob(agent, id, (j) => j.state === 'paused' && j.bytes % PART === 0 && j.speed_bps === 0);
  return j.bytes;
}

describe('downloads', () => {
  it('downloads a file whose sha256 equals the origin file', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('a.bin', 1024 * 1024 + 123);
    const id = await add(agent, { url: origin.url('a.bin'), sha256: f.sha256 });
    const j = await waitJob(agent, id);
    expect(j).toMatchObject({ state: 'done', bytes: f.data.length, total: f.data.length, error: null, proxy: null });
    expect(sha256File(join(dir, 'a.bin'))).toBe(f.sha256);
    expect(existsSync(join(dir, 'a.bin.partial'))).toBe(false);
  });

  it('pause aborts the request at once; resume continues byte-exact with Range and If-Range', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('p.bin', 1024 * 1024);
    origin.switches.throttleBps = 512 * 1024;
    const id = await add(agent, { url: origin.url('p.bin'), sha256: f.sha256 });
    await waitJob(agent, id, (j) => j.bytes >= 300 * 1024);
    await agent.rpc('download.pause', { id });
    expect((await info(agent, id)).state).toBe('paused');
    // The request is aborted: the origin sees its response end before the body was sent.
    const get = origin.requests.find((r) => r.path === '/p.bin')!;
    await waitFor('the origin to see the abort', () => get.closed);
    expect(get.completed).toBe(false);
    await waitJob(agent, id, (j) => j.state === 'paused' && j.speed_bps === 0);
    const held = (await info(agent, id)).bytes;
    expect(held % PART).toBe(0);
    origin.switches.throttleBps = 0;
    await agent.rpc('download.resume', { id });
    const j = await waitJob(agent, id);
    expect(j.state).toBe('done');
    expect(sha256File(join(dir, 'p.bin'))).toBe(f.sha256);
    expect(origin.rangeStarts('p.bin')).toEqual([held]);
    expect(origin.requests.find((r) => r.range === `bytes=${held}-`)?.ifRange).toBe(f.etag);
  });

  it('restarts from zero when the server ignores Range, and still gets the right file', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('i.bin', 512 * 1024);
    origin.switches.throttleBps = 256 * 1024;
    const id = await add(agent, { url: origin.url('i.bin'), sha256: f.sha256 });
    const held = await pausedAt(agent, origin, id, 128 * 1024);
    expect(held).toBeGreaterThan(0);
    origin.switches.throttleBps = 0;
    origin.switches.ignoreRange = true;
    await agent.rpc('download.resume', { id });
    const j = await waitJob(agent, id);
    expect(j).toMatchObject({ state: 'done', restarts: 1 });
    expect(sha256File(join(dir, 'i.bin'))).toBe(f.sha256);
    const stats = await agent.rpc<{ downloads: { restarts_from_zero: number } }>('agent.stats', {});
    expect(stats.downloads.restarts_from_zero).toBe(1);
  });

  it('restarts from zero when the file changed (new ETag) and ends with the new file', async () => {
    const { agent, origin, dir } = await setup();
    origin.addFile('c.bin', 512 * 1024);
    origin.switches.throttleBps = 256 * 1024;
    const id = await add(agent, { url: origin.url('c.bin') });
    await pausedAt(agent, origin, id, 128 * 1024);
    const g = origin.changeFile('c.bin');
    origin.switches.throttleBps = 0;
    await agent.rpc('download.resume', { id });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done', restarts: 1 });
    expect(sha256File(join(dir, 'c.bin'))).toBe(g.sha256);
  });

  it('completes on a 416 when the remote size equals the bytes held', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('t.bin', 512 * 1024);
    origin.switches.noValidators = true;
    origin.switches.throttleBps = 256 * 1024;
    const id = await add(agent, { url: origin.url('t.bin') });
    const held = await pausedAt(agent, origin, id, 128 * 1024);
    // The server now has exactly the bytes held (no validator to notice).
    const g = origin.addFile('t.bin', f.data.subarray(0, held));
    await agent.rpc('download.resume', { id });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done', bytes: held });
    expect(origin.requests.some((r) => r.status === 416)).toBe(true);
    expect(sha256File(join(dir, 't.bin'))).toBe(g.sha256);
  });

  it('fails with "partial data larger than remote file" when the remote file shrank below the bytes held', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('s.bin', 512 * 1024);
    origin.switches.noValidators = true;
    origin.switches.throttleBps = 256 * 1024;
    const id = await add(agent, { url: origin.url('s.bin') });
    const held = await pausedAt(agent, origin, id, 2 * PART);
    origin.addFile('s.bin', f.data.subarray(0, held - PART));
    await agent.rpc('download.resume', { id });
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/partial data larger than remote file/);
    expect(existsSync(join(dir, 's.bin'))).toBe(false);
  });

  it('fails on a checksum mismatch and leaves no dest file', async () => {
    const { agent, origin, dir } = await setup();
    origin.addFile('m.bin', 300 * 1024);
    const id = await add(agent, { url: origin.url('m.bin'), sha256: 'ab'.repeat(32) });
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/checksum mismatch/);
    expect(existsSync(join(dir, 'm.bin'))).toBe(false);
    expect(existsSync(join(dir, 'm.bin.partial'))).toBe(false);
  });

  it('fails at once on an origin 4xx with the status in error', async () => {
    const { agent, origin } = await setup();
    const id = await add(agent, { url: origin.url('missing.bin') });
    const j = await waitJob(agent, id);
    expect(j).toMatchObject({ state: 'failed', attempts: 1 });
    expect(j.error).toMatch(/HTTP 404/);
  });

  it('retries an origin 5xx with backoff, then completes', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('r.bin', 100 * 1024);
    origin.switches.failStatus = 503;
    origin.switches.failCount = 2;
    const id = await add(agent, { url: origin.url('r.bin'), sha256: f.sha256 });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done', attempts: 3 });
    expect(sha256File(join(dir, 'r.bin'))).toBe(f.sha256);
  });

  it('gives up after downloads.max_retries on a persistent 5xx', async () => {
    const { agent, origin } = await setup();
    origin.addFile('r.bin', 1000);
    origin.switches.failCount = 100;
    const id = await add(agent, { url: origin.url('r.bin') });
    const j = await waitJob(agent, id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/gave up after 2 retries: HTTP 503/);
  });

  it('continues at the same offset when the connection drops mid-file', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('d.bin', 1024 * 1024);
    origin.switches.dropAtByte = 300_000;
    const id = await add(agent, { url: origin.url('d.bin'), sha256: f.sha256 });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'done' });
    expect(sha256File(join(dir, 'd.bin'))).toBe(f.sha256);
    expect(origin.rangeStarts('d.bin')).toEqual([300_000]);
  });

  it('runs queued jobs serially, those with an index first by index, then the others by arrival', async () => {
    const { agent, origin } = await setup();
    origin.addFile('x', 256 * 1024);
    for (const n of ['y', 'z', 'w']) origin.addFile(n, 1024);
    origin.switches.throttleBps = 256 * 1024;
    const first = await add(agent, { url: origin.url('x') });
    await waitJob(agent, first, (j) => j.state === 'active');
    const ids = [await add(agent, { url: origin.url('w') }), await add(agent, { url: origin.url('z'), index: 9 }), await add(agent, { url: origin.url('y'), index: 2 })];
    const states = (await agent.rpc<Array<{ id: number; state: string }>>('download.list', {})).map((j) => j.state);
    expect(states.filter((s) => s === 'active')).toHaveLength(1);
    origin.switches.throttleBps = 0;
    for (const id of [first, ...ids]) expect((await waitJob(agent, id)).state).toBe('done');
    expect(origin.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/x', '/y', '/z', '/w']);
  });

  it('refuses a duplicate index with another URL, and treats the same URL as a no-op', async () => {
    const { agent, origin } = await setup();
    origin.addFile('a', 10);
    origin.addFile('b', 10);
    await agent.rpc('download.pause', { all: true });
    const id = await add(agent, { url: origin.url('a'), index: 1 });
    expect(await agent.rpc('download.add', { url: origin.url('a'), index: 1 })).toEqual({ id, existing: true });
    const e = await rpcError(agent.rpc('download.add', { url: origin.url('b'), index: 1 }));
    expect(e.code).toBe('PXC_ERR_DUPLICATE_INDEX');
    expect((await agent.rpc<unknown[]>('download.list', {})).length).toBe(1);
  });

  it('refuses every bad input with a clear error and changes nothing', async () => {
    const { agent, origin, dir } = await setup();
    origin.addFile('a', 10);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'exists'), 'keep');
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ url: 'not a url' }, 'PXC_ERR_BAD_URL', /invalid URL/],
      [{ url: 'ftp://127.0.0.1/a' }, 'PXC_ERR_BAD_URL', /unsupported scheme "ftp"/],
      [{ url: origin.url('a'), sha256: 'xyz' }, 'PXC_ERR_BAD_PARAMS', /sha256 must be 64 hex digits/],
      [{ url: origin.url('a'), sha256: 'a'.repeat(63) }, 'PXC_ERR_BAD_PARAMS', /sha256 must be 64 hex digits/],
      [{ url: origin.url('a'), index: -1 }, 'PXC_ERR_BAD_PARAMS', /index must be a non-negative integer/],
      [{ url: origin.url('a'), dest: '/etc/passwd' }, 'PXC_ERR_BAD_DEST', /outside/],
      [{ url: origin.url('a'), dest: '../x' }, 'PXC_ERR_BAD_DEST', /leaves/],
      [{ url: origin.url('exists') }, 'PXC_ERR_BAD_DEST', /already exists/],
    ];
    for (const [params, code, msg] of cases) {
      const e = await rpcError(agent.rpc('download.add', params));
      expect(e.code, JSON.stringify(params)).toBe(code);
      expect(e.message).toMatch(msg);
    }
    for (const m of ['download.info', 'download.pause', 'download.resume', 'download.cancel', 'download.retry']) {
      expect((await rpcError(agent.rpc(m, { id: 42 }))).code).toBe('PXC_ERR_UNKNOWN_JOB');
    }
    expect(await agent.talk('download add gopher://x/y')).toMatch(/^error: .*unsupported scheme/);
    expect(await agent.talk('download pause nope')).toBe('error: download pause: id: must be a positive integer\n');
    expect(await agent.rpc('download.list', {})).toEqual([]);
    expect(readFileSync(join(dir, 'exists'), 'utf8')).toBe('keep');
  });

  it('cancels a running job and deletes its parts; retry puts a failed job back', async () => {
    const { agent, origin, dir } = await setup();
    const f = origin.addFile('k.bin', 512 * 1024);
    origin.switches.throttleBps = 256 * 1024;
    const id = await add(agent, { url: origin.url('k.bin') });
    await waitJob(agent, id, (j) => j.bytes >= PART);
    await agent.rpc('download.cancel', { id });
    expect(await waitJob(agent, id)).toMatchObject({ state: 'cancelled', bytes: 0 });
    expect(existsSync(join(dir, 'k.bin'))).toBe(false);

    origin.switches.throttleBps = 0;
    origin.switches.failStatus = 500;
    origin.switches.failCount = 3;
    const id2 = await add(agent, { url: origin.url('k.bin'), sha256: f.sha256 });
    expect((await waitJob(agent, id2)).state).toBe('failed');
    expect((await rpcError(agent.rpc('download.resume', { id: id2 }))).code).toBe('PXC_ERR_JOB_STATE');
    await agent.rpc('download.retry', { id: id2 });
    expect((await waitJob(agent, id2)).state).toBe('done');
    expect(sha256File(join(dir, 'k.bin'))).toBe(f.sha256);
  });
});
