import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';

/**
 * `proxyctl proxy …`: thin commands over the proxy.* methods; --json prints what the socket returned.
 * The CLI runs in-process (its output and exit codes are what is under test), but for the
 * stdin case, a real process.
 */

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
});

const config = { proxy: { http_proxy: 'http://127.0.0.1:9|http://127.0.0.1:10;DIRECT', health_check: false } };

describe('proxyctl proxy', () => {
  it('prints info, health and policy, with the same data under --json', async () => {
    const agent = await startInProcessAgent({ config });
    const human = await agent.cliInProcess(['proxy', 'info']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Load-balance groups:\n\[0\] .*\n\[1\] DIRECT\nActive proxy: \[0\] http:\/\/127\.0\.0\.1:(9|10)\n/);
    const json = JSON.parse((await agent.cliInProcess(['proxy', 'info', '--json'])).stdout) as ProxyInfo;
    expect(json).toMatchObject({ policy: 'default', active_group: 0, groups: [{ index: 0, fallback: false, healthy: true }, { index: 1, proxies: [{ address: 'DIRECT' }] }] });
    expect(json.groups[0]!.proxies[0]).toEqual({ address: 'http://127.0.0.1:9', state: 'unknown', healthy: true, addresses: ['127.0.0.1'], address_error: null, last_check: null, latency_ms: null, failures: 0 });
    const health = JSON.parse((await agent.cliInProcess(['proxy', 'health', '--json'])).stdout) as Array<{ proxy: string; state: string }>;
    expect(health.map((r) => [r.proxy, r.state])).toEqual([['http://127.0.0.1:9', 'unknown'], ['http://127.0.0.1:10', 'unknown'], ['DIRECT', 'direct']]);
    expect(JSON.parse((await agent.cliInProcess(['proxy', 'policy', '--json'])).stdout)).toEqual({ policy: 'default' });
    expect((await agent.cliInProcess(['proxy', 'policy', 'sharding'])).stdout).toBe('proxy policy: sharding\n');
    expect((await agent.cliInProcess(['proxy', 'policy'])).stdout).toBe('sharding\n');
  });

  it('changes the list, group and fallbacks, each saying the new state in a line, and printing it as proxy info does under --json', async () => {
    const agent = await startInProcessAgent({ config });
    const line = async (args: string[]) => {
      const r = await agent.cliInProcess(args);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    expect(await line(['proxy', 'set', 'http://127.0.0.1:11;DIRECT'])).toMatch(/^proxy groups: http:\/\/127\.0\.0\.1:11;DIRECT \(revision \d+, active \[0\] http:\/\/127\.0\.0\.1:11\)\n$/);
    expect(await line(['proxy', 'switch'])).toMatch(/^proxy group: \[1\] DIRECT active \(revision \d+\)\n$/);
    expect(await line(['proxy', 'rebalance'])).toMatch(/^proxy group: \[\d\] \S+ active \(revision \d+\)\n$/);
    expect(await line(['proxy', 'fallback', 'http://127.0.0.1:12'])).toMatch(/^proxy fallback: http:\/\/127\.0\.0\.1:12 \(revision \d+\)\n$/);
    const reset = JSON.parse(await line(['proxy', 'reset', '--json'])) as ProxyInfo;
    expect(reset).toEqual(await agent.rpc<ProxyInfo>('proxy.info'));
    expect(reset.spec).toBe('http://127.0.0.1:9|http://127.0.0.1:10;DIRECT');
    const switched = JSON.parse(await line(['proxy', 'switch', '--json'])) as ProxyInfo;
    expect(switched).toMatchObject({ active_group: 1, active_proxy: 'DIRECT', revision: reset.revision + 1 });
    for (const args of [['proxy', 'set', 'DIRECT', '--json'], ['proxy', 'fallback', '', '--json'], ['proxy', 'rebalance', '--json']]) {
      expect(JSON.parse(await line(args)), args.join(' ')).toMatchObject({ revision: expect.any(Number), groups: expect.any(Array) });
    }
  });

  it('refuses `proxy set` without SPEC when stdin is not a terminal (exit 2), and a bad SPEC (exit 1)', async () => {
    const agent = await startInProcessAgent({ config });
    const none = await agent.cli(['proxy', 'set']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing SPEC/);
    const bad = await agent.cli(['proxy', 'set', 'http://127.0.0.1:1|']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/empty member 1 in group 0/);
  });
});

