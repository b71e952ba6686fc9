import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAgents } from '../../helpers/agent.js';
import { cliInProcess } from '../../helpers/cli-in-process.js';
import { closeInProcessAgents } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { startEtcd, stopEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { waitFor } from '../../helpers/wait.js';
import { rpcError } from '../download/helpers.js';
import { canConnect, fleetStatus, freshPrefix, startFleetAgent, startInProcessFleetAgent, waitApplied, type AnyFleetAgent, type FleetAgent, type InProcessFleetAgent } from './helpers.js';

/**
 * A 3-member etcd cluster and two agents: members die and come back, and
 * the fleet goes on serving, then catches up. Agent a runs in this process;
 * b, restarted while etcd is gone, is a real agent process.
 */
let etcd: EtcdCluster;
let prefix: string;
let agents: [InProcessFleetAgent, FleetAgent];

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  prefix = freshPrefix();
  agents = await Promise.all([startInProcessFleetAgent({ endpoints: etcd.endpoints, prefix, node: 'a', octet: 22 }), startFleetAgent({ endpoints: etcd.endpoints, prefix, node: 'b', octet: 23 })]);
});

afterAll(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await stopEtcd();
});

async function push(agent: AnyFleetAgent, port: number): Promise<number> {
  return (await agent.rpc<{ revision: number }>('fleet.push', { document: { apps: [{ name: 'web', ports: [port] }] } })).revision;
}

const serving = (port: number) => Promise.all(agents.map((a) => canConnect(a.bind, port))).then((open) => open.every(Boolean));

describe('a fleet when etcd fails', () => {
  it('keeps working with 2 of 3 members, serves on while etcd is gone (across an agent restart), and catches up when it is back', async () => {
    const p1 = await freePort();
    await waitApplied(agents, await push(agents[0]!, p1));

    // One member down: a quorum of two serves pushes.
    await etcd.kill(0);
    const p2 = await freePort();
    await waitApplied(agents, await push(agents[1]!, p2));
    expect(await serving(p2)).toBe(true);
    await etcd.restart(0);

    // Every member down: the agents serve the last applied config and say they are disconnected.
    await etcd.killAll();
    for (const a of agents) {
      const s = await waitFor(`${a.node} disconnected`, async () => {
        const st = await fleetStatus(a);
        return st.connected ? null : st;
      });
      expect(s).toMatchObject({ stale: true, applied_revision: expect.any(Number), disconnected_since: expect.stringMatching(/^\d{4}-/) });
    }
    const cli = await agents[0]!.cliInProcess(['fleet', 'status']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^node a, fleet .*: disconnected since \d{4}-\d\d-\d\dT[^ ]+ \(.*\); serving config revision \d+/);
    expect(cli.stdout).toMatch(/^nodes as last read from etcd:$/m);
    expect((await cliInProcess(['agent', 'status'], { socket: agents[1]!.socket })).stdout).toMatch(/fleet +node b of .*: disconnected since \d{4}-/);
    expect(await serving(p2)).toBe(true);
    expect(await rpcError(agents[0]!.rpc('fleet.get'))).toMatchObject({ code: 'PXC_ERR_FLEET_UNREACHABLE' });

    // A restart while etcd is away serves the fleet config kept in state.db.
    const b = agents[1]!;
    await b.stop();
    agents[1] = await startFleetAgent({ endpoints: etcd.endpoints, prefix, node: 'b', octet: 23, stateDir: b.stateDir });
    await waitFor('b serves p2 again', () => canConnect('127.0.0.23', p2));
    expect((await fleetStatus(agents[1]!)).connected).toBe(false);

    // etcd back: both reconnect and a push made now reaches everyone.
    await etcd.restartAll();
    await Promise.all(agents.map((a) => waitFor(`${a.node} reconnected`, async () => (await fleetStatus(a)).connected, { timeoutMs: 15_000 })));
    const p3 = await freePort();
    const revision = await push(agents[1]!, p3);
    await waitApplied(agents, revision);
    await waitFor('p3 open on both', () => serving(p3));
    expect(await canConnect(agents[0]!.bind, p2)).toBe(false);
    // Each node's record in etcd says so once the node has written it after applying.
    await waitFor('both node records at the new revision', async () => {
      const status = await fleetStatus(agents[0]!);
      return status.nodes.every((n) => n.config_revision === revision) ? status : null;
    });
    expect((await fleetStatus(agents[0]!)).nodes.map((n) => [n.node, n.config_revision])).toEqual([['a', revision], ['b', revision]]);
  });
});
