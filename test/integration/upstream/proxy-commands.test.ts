import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, runCli, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { waitFor } from '../../helpers/wait.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';

/** Every `proxy *` talk command's reply text, the CLI around them, and persistence until `proxy reset`. */

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
});

// No health checker here: these proxies do not exist, and the tests are about the commands.
const config = { proxy: { http_proxy: 'http://127.0.0.1:9|http://127.0.0.1:10;DIRECT', health_check: false } };

const info = (agent: InProcessAgent) => agent.rpc<ProxyInfo>('proxy.info');

describe('proxy talk commands', () => {
  it('answer in the documented text', async () => {
    const agent = await startInProcessAgent({ config });
    const text = await agent.talk('proxy info');
    expect(text).toMatch(/^Load-balance groups:\n\[0\] http:\/\/127\.0\.0\.1:9 \(unknown, 127\.0\.0\.1\), http:\/\/127\.0\.0\.1:10 \(unknown, 127\.0\.0\.1\)\n\[1\] DIRECT\nActive proxy: \[0\] http:\/\/127\.0\.0\.1:(9|10)\nRevision: \d+\nPolicy: default\n$/);

    expect(await agent.talk('proxy set http://127.0.0.1:11 | http://127.0.0.1:12 ; DIRECT')).toBe('OK\n');
    expect((await info(agent)).spec).toBe('http://127.0.0.1:11|http://127.0.0.1:12;DIRECT');

    expect(await agent.talk('proxy fallback http://127.0.0.1:13')).toBe('OK\n');
    const withFallback = await agent.talk('proxy info');
    expect(withFallback).toContain('[1] http://127.0.0.1:13 (unknown, 127.0.0.1)\n');
    expect(withFallback).toContain('First fallback group: [1]\n');
    expect(withFallback).not.toContain('DIRECT');

    expect(await agent.talk('proxy group switch')).toBe('OK\n');
    expect(await agent.talk('proxy info')).toContain('Active proxy: [1] http://127.0.0.1:13\n');
    expect(await agent.talk('proxy rebalance')).toBe('OK\n');

    expect(await agent.talk('proxy policy')).toBe('default\n');
    expect(await agent.talk('proxy policy sharding')).toBe('OK\n');
    expect(await agent.talk('proxy policy')).toBe('sharding\n');

    const health = await agent.talk('proxy health');
    expect(health.split('\n')[0]).toMatch(/^PROXY\s+GROUP\s+STATE\s+LAST CHECK\s+LATENCY MS\s+FAILURES\s+SLOW$/);
    expect(health).toMatch(/http:\/\/127\.0\.0\.1:11\s+0\s+unknown\s+-\s+-\s+0\s+0/);

    expect(await agent.talk('proxy reset')).toBe('OK\n');
    expect(await agent.talk('proxy policy')).toBe('default\n');
    expect(await agent.talk('proxy info')).toContain('[0] http://127.0.0.1:9 (unknown, 127.0.0.1), http://127.0.0.1:10 (unknown, 127.0.0.1)\n[1] DIRECT\n');
  });

  it('refuse a malformed string naming the bad token, and keep the running list', async () => {
    const agent = await startInProcessAgent({ config });
    const before = await info(agent);
    expect(await agent.talk('proxy set http://127.0.0.1:11||http://127.0.0.1:12')).toBe('error: http_proxy: empty member 1 in group 0 ("http://127.0.0.1:11||http://127.0.0.1:12")\n');
    expect(await agent.talk('proxy set http://127.0.0.1:99999')).toMatch(/^error: .*port 99999 out of range/);
    expect(await agent.talk('proxy set socks5://127.0.0.1:1080')).toMatch(/^error: .*unknown scheme "socks5"/);
    expect(await agent.talk('proxy set')).toMatch(/^error: proxy set: missing SPEC/);
    expect(await agent.talk('proxy policy round-robin')).toMatch(/^error: unknown proxy policy "round-robin"/);
    const after = await info(agent);
    expect(after.revision).toBe(before.revision);
    expect(after.spec).toBe(before.spec);
    await expect(agent.rpc('proxy.set', { spec: 'a:1;;b:2' })).rejects.toMatchObject({ rpc: { data: { code: 'PXC_ERR_BAD_PROXY_SPEC' } } });
  });
});

describe('run-time changes', () => {
  it('survive an agent restart until proxy reset', async () => {
    const stateDir = tempDir();
    let agent = await startInProcessAgent({ config, stateDir });
    await agent.talk('proxy set http://127.0.0.1:21|http://127.0.0.1:22');
    await agent.talk('proxy fallback http://127.0.0.1:23');
    await agent.talk('proxy policy sharding');
    await agent.stop();

    agent = await startInProcessAgent({ config, stateDir });
    let i = await info(agent);
    expect(i.spec).toBe('http://127.0.0.1:21|http://127.0.0.1:22');
    expect(i.fallback_spec).toBe('http://127.0.0.1:23');
    expect(i.policy).toBe('sharding');
    expect(await agent.talk('proxy reset')).toBe('OK\n');
    await agent.stop();

    agent = await startInProcessAgent({ config, stateDir });
    i = await info(agent);
    expect(i.spec).toBe('http://127.0.0.1:9|http://127.0.0.1:10;DIRECT');
    expect(i.first_fallback_group).toBeNull();
    expect(i.policy).toBe('default');
  });

  it('stay over a config reload, which still applies to the rest', async () => {
    const agent = await startInProcessAgent({ config });
    await agent.talk('proxy set http://127.0.0.1:31');
    agent.writeConfig({ proxy: { ...config.proxy, http_proxy: 'http://127.0.0.1:32', policy: 'sharding' } });
    expect(await agent.talk('reload')).toBe('OK\n');
    const i = await info(agent);
    expect(i.spec).toBe('http://127.0.0.1:31');
    expect(i.policy).toBe('sharding');
    await agent.talk('proxy reset');
    expect((await info(agent)).spec).toBe('http://127.0.0.1:32');
  });
});

describe('config reload', () => {
  it('applies a changed proxy string as a new revision, leaves an unchanged one alone, and keeps the list on a bad file', async () => {
    const agent = await startInProcessAgent({ config });
    const r0 = (await info(agent)).revision;
    agent.writeConfig({ proxy: { ...config.proxy, min_healthy: 2 } });
    expect(await agent.talk('reload')).toBe('OK\n');
    expect((await info(agent)).revision).toBe(r0);
    agent.writeConfig({ proxy: { ...config.proxy, http_proxy: 'http://127.0.0.1:41;DIRECT', fallback_proxy: 'http://127.0.0.1:42' } });
    expect(await agent.talk('reload')).toBe('OK\n');
    const next = await info(agent);
    expect(next.revision).toBeGreaterThan(r0);
    expect(next.groups.map((g) => [g.index, g.fallback, g.proxies.map((p) => p.address)])).toEqual([
      [0, false, ['http://127.0.0.1:41']],
      [1, true, ['http://127.0.0.1:42']],
    ]);
    agent.writeConfig({ proxy: { http_proxy: 'http://127.0.0.1:43|' } });
    expect(await agent.talk('reload')).toMatch(/^error: .*proxy\.http_proxy: empty member 1 in group 0/);
    expect((await info(agent)).revision).toBe(next.revision);
  });
});

describe('custom policy module', () => {
  it('is loaded by path from the config; the socket refuses to set one', async () => {
    const dir = tempDir();
    const good = join(dir, 'first.mjs');
    writeFileSync(good, 'export function setPreferredProxy(job) { job.order = job.members.map((_, i) => i); job.index = 0; }\nexport function handleFailure(job) { job.index++; }\n');
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, 'export function setPreferredProxy() {}\n');
    const agent = await startInProcessAgent({ config: { proxy: { ...config.proxy, policy: good } } });
    // The socket answers before the subsystems finished starting: the module loads asynchronously.
    await waitFor('the policy module loaded', async () => (await agent.talk('proxy policy')) === `${good}\n`);
    expect(await agent.talk(`proxy policy ${broken}`)).toBe(`error: proxy policy "${broken}" refused: the control socket sets only the built-in policies (default, sharding); name a policy module in the config file (proxy.policy) and reload\n`);
    expect(await agent.talk('proxy policy')).toBe(`${good}\n`);
  });

  it('that is broken in the config keeps the agent from starting', async () => {
    const dir = tempDir();
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, 'export const nothing = 1;\n');
    const stateDir = tempDir();
    const configPath = join(stateDir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ proxy: { policy: broken } }));
    const r = await runCli(['agent', 'start', '--state-dir', stateDir, '--config', configPath]);
    expect(r.code).not.toBe(0);
    expect((r.stdout + r.stderr).replace(/\s*›\s*/g, ' ')).toMatch(/must export setPreferredProxy\(job\) and handleFailure\(job, error\); missing: setPreferredProxy, handleFailure/);
  });
});

describe('config validation', () => {
  it('names the path and the bad token of a malformed proxy string', async () => {
    const stateDir = tempDir();
    const configPath = join(stateDir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ proxy: { http_proxy: 'http://a:3128;;DIRECT' } }));
    const r = await runCli(['agent', 'start', '--state-dir', stateDir, '--config', configPath]);
    expect(r.code).not.toBe(0);
    expect((r.stdout + r.stderr).replace(/\s*›\s*/g, ' ')).toMatch(/proxy\.http_proxy: empty group 1/);
  });
});
