import { afterEach, describe, expect, it } from 'vitest';
import type { HealthRow, TimeoutInfo } from '../../../src/upstream/commands.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { closeUpstreams, openUpstream } from './harness.js';

/** cvmfs_talk's `timeout info`, `timeout set PROXY DIRECT` and `reset error counters`. */

afterEach(async () => {
  await closeUpstreams();
  await cleanupAgents();
});

const job = (url: string) => ({ key: url, sources: [url], maxRetries: 3, caFile: null, plan: null });

describe('timeout info and timeout set', () => {
  it('show and change both timeouts, in talk and JSON-RPC, and the router uses them at once', async () => {
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9;DIRECT', timeout: 5, timeout_direct: 10 });
    expect(await u.talk('timeout info')).toBe('Timeout with proxy: 5 s\nTimeout without proxy: 10 s\n');
    expect(await u.rpc<TimeoutInfo>('timeout.info')).toEqual({ proxy_s: 5, direct_s: 10, source: { proxy: 'config', direct: 'config' } });
    expect(u.sub.router.attempt(job('http://o.example/a'), 'http://o.example/a', 0).timeoutMs).toBe(5000);

    expect(await u.talk('timeout set 2 3.5')).toBe('Timeout with proxy: 2 s (timeout set)\nTimeout without proxy: 3.5 s (timeout set)\n');
    expect(u.sub.router.attempt(job('http://o.example/b'), 'http://o.example/b', 0).timeoutMs).toBe(2000);
    expect(await u.rpc<TimeoutInfo>('timeout.set', { proxy_s: 4, direct_s: 8 })).toEqual({ proxy_s: 4, direct_s: 8, source: { proxy: 'run-time', direct: 'run-time' } });
  });

  it('refuse what is not two positive numbers of seconds, naming it, and change nothing', async () => {
    const u = await openUpstream({});
    expect(await u.talk('timeout set 5')).toBe('error: timeout set: expected PROXY_S DIRECT_S (seconds), e.g. timeout set 5 10\n');
    expect(await u.talk('timeout set 5 ten')).toBe('error: timeout set: DIRECT_S "ten" is not a number of seconds\n');
    expect(await u.talk('timeout set 0 10')).toBe('error: timeout set: proxy_s: must be a positive number of seconds (got 0)\n');
    await expect(u.rpc('timeout.set', { proxy_s: '5', direct_s: 10 })).rejects.toMatchObject({ code: 'PXC_ERR_BAD_PARAMS', message: 'timeout set: proxy_s: must be a number of seconds' });
    expect(await u.rpc<TimeoutInfo>('timeout.info')).toMatchObject({ proxy_s: 5, direct_s: 10 });
  });

  it('are kept across a restart until proxy reset', async () => {
    const dir = tempDir();
    const u = await openUpstream({}, {}, dir);
    await u.talk('timeout set 2 3');
    const again = await u.restart();
    expect(await again.rpc<TimeoutInfo>('timeout.info')).toMatchObject({ proxy_s: 2, direct_s: 3 });
    expect(await again.talk('proxy reset')).toBe('OK\n');
    expect(await again.rpc<TimeoutInfo>('timeout.info')).toEqual({ proxy_s: 5, direct_s: 10, source: { proxy: 'config', direct: 'config' } });
  });
});

describe('reset error counters', () => {
  it("zeroes every proxy's failures and slow transfers, while the Prometheus counters keep counting", async () => {
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9|http://127.0.0.1:10;DIRECT' });
    const nine = u.sub.list.groups[0]!.proxies[0]!;
    nine.metrics.failuresProxy.inc(3);
    nine.metrics.slow.inc(2);
    nine.lastError = 'ECONNREFUSED';
    const row = async () => (await u.rpc<HealthRow[]>('proxy.health')).find((r) => r.proxy === 'http://127.0.0.1:9')!;
    expect(await row()).toMatchObject({ failures: 3, slow: 2, last_error: 'ECONNREFUSED' });

    expect(await u.talk('reset error counters')).toBe('OK\n');
    expect(await row()).toMatchObject({ failures: 0, slow: 0, last_error: null });
    expect(nine.metrics.failuresProxy.value).toBe(3);
    nine.metrics.failuresProxy.inc();
    expect((await row()).failures).toBe(1);
    expect(await u.rpc('proxy.reset_errors')).toEqual({ proxies: 3 });
  });
});
