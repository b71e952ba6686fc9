import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';

/** `proxyctl proxy …`: thin commands over the proxy.* methods; --json prints what the socket returned. */

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
});

const config = { proxy: { http_proxy: 'http://127.0.0.1:9|http://127.0.0.1:10;DIRECT', health_check: false } };

describe('proxyctl proxy', () => {
  it('prints info, health and policy, with the same data under --json', async () => {
    const agent = await startInProcessAgent({ config });
    const human = await agent.cli(['proxy', 'info']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Load-balance groups:\n\[0\] .*\n\[1\] DIRECT\nActive proxy: \[0\] http:\/\/127\.0\.0\.1:(9|10)\n/);
    const json = JSON.parse((await agent.cli(['proxy', 'info', '--json'])).stdout) as ProxyInfo;
    expect(json).toMatchObject({ policy: 'default', active_group: 0, groups: [{ index: 0, fallback: false, healthy: true }, { index: 1, proxies: [{ address: 'DIRECT' }] }] });
    expect(json.groups[0]!.proxies[0]).toEqual({ address: 'http://127.0.0.1:9', healthy: true, last_check: null, latency_ms: null, failures: 0 });
    const health = JSON.parse((await agent.cli(['proxy', 'health', '--json'])).stdout) as Array<{ proxy: string; state: string }>;
    expect(health.map((r) => [r.proxy, r.state])).toEqual([['http://127.0.0.1:9', 'healthy'], ['http://127.0.0.1:10', 'healthy'], ['DIRECT', 'direct']]);
    expect(JSON.parse((await agent.cli(['proxy', 'policy', '--json'])).stdout)).toEqual({ policy: 'default' });
  });

  it('changes the list, group, policy and fallbacks, each printing OK', async () => {
    const agent = await startInProcessAgent({ config });
    // (fallback, rebalance and the policy's change are the same one-call shape: covered over talk.)
    for (const args of [['proxy', 'set', 'http://127.0.0.1:11;DIRECT'], ['proxy', 'switch'], ['proxy', 'reset']]) {
      const r = await agent.cli(args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 0, stdout: 'OK\n' });
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

