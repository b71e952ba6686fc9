import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import type { FleetEventsResult } from '../../../src/fleet/commands.js';
import type { RolloutRecord } from '../../../src/fleet/rollout.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { startEtcd, stopEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { startNotesLoad } from '../../helpers/notes-load.js';
import { waitFor } from '../../helpers/wait.js';
import { rpcError } from '../download/helpers.js';
import { fleetFile, fleetStatus, freshPrefix, startFleetAgent, startInProcessFleetAgent, TEST_LEASE_TTL, waitApplied, type AnyFleetAgent, type FleetAgent, type InProcessFleetAgent } from './helpers.js';

/**
 * Three agents on one host run the notes service from one fleet push (each
 * its own data proxy, DB under its state dir, app on its own address), and
 * fleet deploys roll it node by node. Nodes a and b run in this process;
 * c, the coordinator killed with -9, is a real agent process. The CLI runs in-process but for
 * the rollout's --wait (a real process beside the refused second deploy).
 */
let etcd: EtcdCluster;
let agents: [InProcessFleetAgent, InProcessFleetAgent, FleetAgent];
let port: number;
let fleetDocument: { apps: unknown[]; services: Array<Record<string, unknown>> };

const notes = (agent: AnyFleetAgent) => agent.rpc<ServiceInfo>('service.info', { service: 'notes' });

beforeAll(async () => {
  etcd = await startEtcd();
  const prefix = freshPrefix();
  const node = (name: string, octet: number) => ({ endpoints: etcd.endpoints, prefix, node: name, octet });
  // c's process starts while a and b are built here.
  const [a, b, c] = await Promise.all([startInProcessFleetAgent(node('a', 12)), startInProcessFleetAgent(node('b', 13)), startFleetAgent(node('c', 14))]);
  agents = [a, b, c];
  port = await freePort();
  fleetDocument = {
    apps: [{ name: 'notes', ports: [port], balance: 'random' }],
    services: [{
      name: 'notes',
      app: 'notes',
      command: ['{node}', '{proxyctl}', 'data-proxy', '--db', '{state_dir}/notes', '--shards', '2'],
      ready: { kind: 'jsonrpc', path: '/rpc' },
      // 60 s to answer Ready: the first data proxies start on a cold, loaded box (a deadline, not a wait).
      ready_attempts: 600,
      ready_interval: 0.1,
      drain: 0.5,
      stop_timeout: 5,
    }],
  };
  const push = await agents[0]!.cliInProcess(['fleet', 'push', fleetFile(fleetDocument), '--json']);
  expect(push.code).toBe(0);
  await waitApplied(agents, (JSON.parse(push.stdout) as { revision: number }).revision);
  await Promise.all(agents.map((a) => waitFor(`${a.node}: notes v1 ready`, async () => (await notes(a)).current?.state === 'ready', { timeoutMs: 90_000 })));
}, 120_000);

afterAll(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await stopEtcd();
});

describe('fleet deploys', () => {
  it('roll every node to the next version with zero failed calls through every node\'s app port, and refuse a second fleet deploy meanwhile', async () => {
    const loads = agents.map((a) => startNotesLoad(`http://${a.bind}:${port}/rpc`));
    await waitFor('load on every node', () => loads.every((l) => l.report().calls > 10));

    const follower = await agents[0]!.rpc<FleetEventsResult>('fleet.events');
    const coordinator = agents[2]!;
    const rollout = coordinator.cli(['deploy', 'notes', '--fleet', '--wait'], { timeoutMs: 60_000 });
    await waitFor('rollout running', async () => (await coordinator.rpc<RolloutRecord | null>('fleet.rollout', { service: 'notes' }))?.state === 'running', { timeoutMs: 30_000 });
    // Another node asking for the same service meanwhile is refused at once: the lock is held.
    const second = await agents[0]!.cliInProcess(['deploy', 'notes', '--fleet', '--json']);
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout)).toMatchObject({ error: { code: 'PXC_ERR_FLEET_DEPLOY_LOCKED', message: expect.stringMatching(/a fleet deploy of notes is already running \(rollout notes-\S+, coordinator c,/) } });
    expect((await agents[1]!.talk('fleet deploy notes')).trim()).toMatch(/^error: a fleet deploy of notes is already running/);

    const r = await rollout;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/a: deploying v1 -> v2[\s\S]*a: succeeded v1 -> v2[\s\S]*b: succeeded[\s\S]*c: succeeded/);
    const reports = await Promise.all(loads.map((l) => l.stop()));
    for (const rep of reports) {
      expect(rep.failures).toEqual([]);
      expect(rep.calls).toBeGreaterThan(20);
    }
    for (const a of agents) expect(await notes(a)).toMatchObject({ state: 'READY', current: { version: 2 }, previous: null });
    // Node by node: each node's deploy started after the one before it ended.
    const record = (await coordinator.rpc<RolloutRecord>('fleet.rollout', { service: 'notes' }))!;
    expect(record).toMatchObject({ state: 'succeeded', coordinator: 'c', nodes: [{ node: 'a', state: 'succeeded', version: 2 }, { node: 'b', state: 'succeeded' }, { node: 'c', state: 'succeeded' }] });
    const deploys = await Promise.all(agents.map(async (a) => (await notes(a)).last_deploy!));
    for (let i = 1; i < deploys.length; i++) expect(Date.parse(deploys[i]!.started_at)).toBeGreaterThanOrEqual(Date.parse(deploys[i - 1]!.finished_at!));
    const status = await fleetStatus(agents[0]!);
    expect(status.nodes.map((n) => n.services)).toEqual(agents.map(() => [{ name: 'notes', version: 2, state: 'READY' }]));
    // Any node following the fleet's events saw the rollout go by.
    const events = await waitFor('deploy events', async () => {
      const text = (await agents[0]!.rpc<FleetEventsResult>('fleet.events', { after: follower.last })).events.map((e) => e.message).join('\n');
      return /fleet deploy notes \(\S+\) succeeded on 3\/3/.test(text) ? text : null;
    });
    expect(events).toMatch(/fleet deploy notes \(\S+\) started by c on a, b, c[\s\S]*deploy notes on a: deploying v1 -> v2[\s\S]*deploy notes on a: v2 is current[\s\S]*deploy notes on c: v2 is current/);
  });

  it('frees the lock of a coordinator killed mid-rollout once its lease expires', async () => {
    const coordinator = agents[2]!;
    const started = await coordinator.rpc<RolloutRecord>('fleet.deploy', { service: 'notes' });
    expect(started).toMatchObject({ state: 'running', coordinator: 'c', nodes: [{ node: 'a' }, { node: 'b' }, { node: 'c' }] });
    await coordinator.kill9();
    const killedAt = Date.now();
    expect(await rpcError(agents[1]!.rpc('fleet.deploy', { service: 'notes' }))).toMatchObject({ code: 'PXC_ERR_FLEET_DEPLOY_LOCKED', message: expect.stringContaining('coordinator c') });
    const next = await waitFor('lock free again', async () => {
      try {
        return await agents[1]!.rpc<RolloutRecord>('fleet.deploy', { service: 'notes' });
      } catch (err) {
        if ((err as { rpc?: { data?: { code?: string } } }).rpc?.data?.code === 'PXC_ERR_FLEET_DEPLOY_LOCKED') return null;
        throw err;
      }
    }, { timeoutMs: (TEST_LEASE_TTL + 5) * 1000, intervalMs: 100 });
    expect(Date.now() - killedAt).toBeLessThan((TEST_LEASE_TTL + 3) * 1000);
    expect(next).toMatchObject({ coordinator: 'b', state: 'running' });
    // Let it end (node a may still be in c's deploy: then it fails there, naming a) before the agents stop.
    const end = await waitFor('second rollout ends', async () => {
      const r = await agents[1]!.rpc<RolloutRecord>('fleet.rollout', { service: 'notes' });
      return r.state === 'running' ? null : r;
    }, { timeoutMs: 30_000 });
    if (end.state === 'failed') expect(end.error).toMatch(/^stopped at node [abc]: /);
  });

  it('stops at the first node whose deploy fails and names it; the nodes after it are not asked', async () => {
    // Node a is busy with a long deploy of its own (drain 30 s): a fleet deploy cannot start one there.
    const slow = await agents[0]!.rpc<{ revision: number }>('fleet.push', { document: { ...fleetDocument, services: [{ ...fleetDocument.services[0], drain: 30 }] } });
    await waitApplied(agents.slice(0, 2), slow.revision);
    for (const a of agents.slice(0, 2)) await waitFor(`${a.node} idle`, async () => (await notes(a)).state === 'READY', { timeoutMs: 30_000 });
    await agents[0]!.rpc('service.deploy', { service: 'notes' });
    const b = (await notes(agents[1]!)).current!.version;
    const r = await agents[1]!.cliInProcess(['deploy', 'notes', '--fleet', '--wait', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'PXC_ERR_FLEET_DEPLOY_FAILED', message: expect.stringMatching(/ failed: stopped at node a: service notes: deploy already in progress/) } });
    expect(await agents[1]!.rpc<RolloutRecord>('fleet.rollout', { service: 'notes' })).toMatchObject({
      state: 'failed',
      coordinator: 'b',
      nodes: [{ node: 'a', state: 'failed' }, { node: 'b', state: 'not run' }],
    });
    expect((await notes(agents[1]!)).current?.version).toBe(b);
    // Node a learns the rollout's end through its etcd watch: eventually.
    const status = await waitFor("node a's fleet status shows the rollout's end", async () => {
      const last = (await agents[0]!.talk('fleet status')).trim().split('\n').at(-1)!;
      return / running \(/.test(last) ? null : last;
    });
    expect(status).toMatch(/^fleet deploy notes notes-\S+: failed \(0\/2 nodes, coordinator b, .*\): stopped at node a/);
  });
});
