import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetGetResult } from '../../../src/fleet/commands.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';
import { spawn } from 'node:child_process';
import { BIN, cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { startEtcd, stopEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { waitFor } from '../../helpers/wait.js';
import { rpcError } from '../download/helpers.js';
import { canConnect, fleetFile, fleetStatus, freshPrefix, startFleetAgent, startInProcessFleetAgent, TEST_LEASE_TTL, waitApplied, type InProcessFleetAgent } from './helpers.js';

/**
 * Three agents on one host in one fleet (one etcd member), each serving the
 * fleet's apps on its own loopback address (forward.bind 127.0.0.2/3/4).
 * Agent c has a local app on port `localPort`, which a fleet app can collide with.
 * They run in this process; d, the node killed with -9, is a real agent process. The CLI runs
 * in-process but for the first push and the follower of fleet events.
 */
let etcd: EtcdCluster;
let prefix: string;
let agents: InProcessFleetAgent[];
let localPort: number;

beforeAll(async () => {
  etcd = await startEtcd();
  prefix = freshPrefix();
  localPort = await freePort();
  agents = await Promise.all(
    ['a', 'b', 'c'].map((node, i) => startInProcessFleetAgent({ endpoints: etcd.endpoints, prefix, node, octet: 2 + i, ...(node === 'c' ? { local: { apps: [{ name: 'local', ports: [localPort] }] } } : {}) })),
  );
  await waitFor('three nodes registered', async () => (await fleetStatus(agents[0]!)).nodes.length === 3);
});

afterAll(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await stopEtcd();
});

/** The CLI running in the background against an agent: its output so far, and its exit code. */
function spawnCli(agent: { socket: string }, args: readonly string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', PROXYCTL_SOCKET: agent.socket }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return { stdout: () => out, stderr: () => err, exited: new Promise<number | null>((r) => child.once('exit', (code) => r(code))) };
}

const revisionOf = async (agent: InProcessFleetAgent) => (await agent.rpc<FleetGetResult>('fleet.get')).revision;

describe('fleet config', () => {
  it('reaches every agent\'s running config within 2 s of a push: the app listens on each agent\'s own address', async () => {
    const port = await freePort();
    const push = await agents[0]!.cli(['fleet', 'push', fleetFile({ apps: [{ name: 'web', ports: [port], targets: ['127.0.0.1:9'] }] }), '--json']);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const { revision, changed } = JSON.parse(push.stdout) as { revision: number; changed: string[] };
    expect(changed).toEqual(['apps']);
    const pushedAt = Date.now();
    await waitApplied(agents, revision, 2000);
    await Promise.all(agents.map((a) => waitFor(`${a.bind}:${port} open`, () => canConnect(a.bind, port), { timeoutMs: Math.max(1, 2000 - (Date.now() - pushedAt)) })));
    for (const a of agents) {
      const web = await a.rpc<{ bind: string; ports: Array<{ port: number; state: string }> }>('app.info', { name: 'web' });
      expect(web).toMatchObject({ bind: a.bind, ports: [{ port, state: 'listening' }] });
    }
    // Agent c keeps its local app beside the fleet's.
    expect(await canConnect('127.0.0.4', localPort)).toBe(true);
    const status = await agents[1]!.cliInProcess(['fleet', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`connected; config revision ${revision}`));
    expect(status.stdout).toMatch(new RegExp(`^a +\\S+ +\\S+ +${revision} +1/1 `, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^c +\\S+ +\\S+ +${revision} +2/2 `, 'm'));
  });

  it('shows proxy set --fleet on every node\'s proxy info', async () => {
    const spec = 'http://127.0.0.1:9|http://127.0.0.2:9;DIRECT';
    const r = await agents[1]!.cliInProcess(['proxy', 'set', spec, '--fleet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const revision = Number(/fleet config revision (\d+)/.exec(r.stdout)![1]);
    await waitApplied(agents, revision);
    for (const a of agents) expect((await a.rpc<ProxyInfo>('proxy.info')).spec).toBe(spec);
    // The push before it stays: proxy set --fleet edits the proxy document only.
    expect((await agents[2]!.rpc<FleetGetResult>('fleet.get')).document).toMatchObject({ proxy: { http_proxy: spec }, apps: [{ name: 'web' }] });
    expect((await agents[0]!.talk('proxy info')).split('\n')[0]).toBe('Load-balance groups:');
  });

  it('refuses a bad push before writing it: nothing changes anywhere', async () => {
    const before = await revisionOf(agents[0]!);
    const bad = await agents[0]!.cliInProcess(['fleet', 'push', fleetFile({ apps: [{ name: 'x', ports: [70000] }] }), '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'PXC_ERR_CONFIG', message: expect.stringContaining('apps[0].ports[0]: port 70000 out of range') } });
    const local = await rpcError(agents[0]!.rpc('fleet.push', { document: { control: { mode: '0666' }, proxy: { timeout: 1 } }, source: 'local.json' }));
    expect(local.code).toBe('PXC_ERR_CONFIG');
    expect(local.message).toMatch(/control: node-local, not fleet-wide/);
    expect(local.message).toMatch(/proxy\.timeout: node-local, not fleet-wide/);
    expect((await rpcError(agents[1]!.rpc('fleet.push', { document: { services: [{ name: 's', app: 'nowhere', command: ['true'] }] } }))).message).toMatch(/services\[0\]\.app: unknown app "nowhere"/);
    expect((await rpcError(agents[2]!.rpc('fleet.proxy.set', { spec: 'http://a:99999' }))).message).toMatch(/^fleet proxy set: proxy\.http_proxy: /);
    expect(await revisionOf(agents[1]!)).toBe(before);
    for (const a of agents) expect((await fleetStatus(a)).applied_revision).toBe(before);
  });

  it('lets one of two pushes from the same read win; the other fails with "fleet config changed since you read it"', async () => {
    const read = await revisionOf(agents[0]!);
    const results = await Promise.all(
      [1, 2].map(async (i) => {
        const document = { apps: [{ name: `w${i}`, ports: [await freePort()] }] };
        return agents[i]!.rpc('fleet.push', { document, revision: read }).then(() => ({ name: `w${i}`, error: null }), (err: Error) => ({ name: `w${i}`, error: err.message }));
      }),
    );
    const won = results.filter((r) => r.error === null);
    const lost = results.filter((r) => r.error !== null);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.error).toMatch(/^fleet config changed since you read it \(revision \d+/);
    const doc = await agents[0]!.rpc<FleetGetResult>('fleet.get');
    expect((doc.document.apps as Array<{ name: string }>).map((a) => a.name)).toEqual([won[0]!.name]);
    // A diff names the revision it compared with; pushing the same file over it is a no-op.
    const same = fleetFile(doc.document);
    const diff = await agents[2]!.cliInProcess(['fleet', 'diff', same]);
    expect(diff.stdout).toBe(`against fleet config revision ${doc.revision}:\nno changes\n`);
    expect(await agents[2]!.rpc('fleet.push', { document: doc.document })).toMatchObject({ revision: doc.revision, changed: [] });
  });

  it('keeps the running config of an agent that cannot apply a revision, and shows why in fleet status', async () => {
    const port = await freePort();
    const { revision } = await agents[0]!.rpc<{ revision: number }>('fleet.push', { document: { apps: [{ name: 'web', ports: [port] }, { name: 'taken', ports: [localPort] }] } });
    await waitApplied(agents.slice(0, 2), revision);
    const status = await waitFor('c refuses', async () => {
      const s = await fleetStatus(agents[0]!);
      return s.nodes.find((n) => n.node === 'c')?.error ? s : null;
    });
    const c = status.nodes.find((n) => n.node === 'c')!;
    expect(c.error).toMatch(new RegExp(`revision ${revision}: .*apps\\[\\d\\]\\.ports\\[0\\]: port ${localPort} already used by app "local"`));
    expect(c.config_revision).toBeLessThan(revision);
    expect(await canConnect('127.0.0.4', localPort)).toBe(true);
    expect(await canConnect('127.0.0.4', port)).toBe(false);
    expect(await canConnect('127.0.0.2', port)).toBe(true);
    // A fixed push clears the error.
    const next = (await agents[0]!.rpc<{ revision: number }>('fleet.push', { document: { apps: [{ name: 'web', ports: [port] }] } })).revision;
    await waitApplied(agents, next);
    // The node records say so once each node has written its own after applying.
    await waitFor('every node record at the fixed revision, without error', async () => (await fleetStatus(agents[0]!)).nodes.every((n) => n.error === null && n.config_revision === next));
    expect(await canConnect('127.0.0.4', port)).toBe(true);
  });

  it('drops a killed agent\'s node record when its lease expires; fleet events tell who joined, left, and pushed what', async () => {
    const follower = spawnCli(agents[0]!, ['fleet', 'events', '--limit', '3', '--timeout', '30']);
    await waitFor('following', () => follower.stderr().includes('following fleet events'));
    const d = await startFleetAgent({ endpoints: etcd.endpoints, prefix, node: 'd', octet: 5 });
    await waitFor('d registered', async () => (await fleetStatus(agents[0]!)).nodes.some((n) => n.node === 'd'));
    await d.kill9();
    const killedAt = Date.now();
    await waitFor('d gone', async () => !(await fleetStatus(agents[0]!)).nodes.some((n) => n.node === 'd'), { timeoutMs: (TEST_LEASE_TTL + 5) * 1000, intervalMs: 50 });
    expect(Date.now() - killedAt).toBeLessThan((TEST_LEASE_TTL + 3) * 1000);
    const pushed = await agents[1]!.rpc<{ revision: number }>('fleet.push', { document: { proxy: { http_proxy: 'DIRECT' } }, source: '/x/edit.json' });
    expect(await follower.exited).toBe(0);
    const lines = follower.stdout().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\S+ +node +node d joined \(pid \d+, proxyctl \S+, config revision \d+\)$/);
    expect(lines[1]).toMatch(/node d left the fleet \(stopped, or its lease expired\)$/);
    expect(lines[2]).toMatch(new RegExp(`config +config revision ${pushed.revision} by b \\(push edit\\.json\\): (apps, )?proxy changed$`));
  });

  it('says where it stands in agent status: node, connected, config revision', async () => {
    const r = await agents[2]!.cliInProcess(['agent', 'status']);
    expect(r.stdout).toMatch(new RegExp(`fleet +node c of ${prefix.replaceAll('/', '\\/')}: connected, config revision \\d+`));
  });
});

describe('an agent without a cluster key', () => {
  it('answers fleet commands with "not in a fleet" and runs no fleet code', async () => {
    const agent: InProcessAgent = await startInProcessAgent({ config: { apps: [] } });
    const r = await agent.cliInProcess(['fleet', 'status', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'PXC_ERR_NOT_IN_FLEET', message: expect.stringMatching(/not in a fleet: its config has no cluster key/) } });
    expect((await agent.talk('fleet get')).trim()).toMatch(/^error: this agent is not in a fleet/);
    expect((await rpcError(agent.rpc('fleet.proxy.set', { spec: 'DIRECT' }))).code).toBe('PXC_ERR_NOT_IN_FLEET');
    expect(await agent.rpc('agent.status')).not.toHaveProperty('fleet');
    expect(agent.stderr()).not.toMatch(/"sub":"fleet"/);
  });
});
