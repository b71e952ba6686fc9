import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FleetStatus } from '../../../src/fleet/commands.js';
import { startAgent, tempDir, type TestAgent } from '../../helpers/agent.js';
import { startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { waitFor } from '../../helpers/wait.js';

/** Lease TTL of the test fleets: a killed agent's record goes within ~2 s. */
export const TEST_LEASE_TTL = 2;

/** A fleet of its own in a shared etcd: a fresh prefix. */
export const freshPrefix = (): string => `/pxc-test-${randomBytes(4).toString('hex')}/`;

export interface FleetAgent extends TestAgent {
  readonly node: string;
  /** forward.bind of this agent: 127.0.0.2, 127.0.0.3, … */
  readonly bind: string;
}

export interface FleetAgentOptions {
  endpoints: readonly string[];
  prefix: string;
  node: string;
  /** 127.0.0.<octet> is the agent's forward.bind. */
  octet: number;
  /** More of the local config file (apps, services, …). */
  local?: Record<string, unknown>;
  stateDir?: string;
}

/** A fleet agent in the test's own process (helpers/in-process-agent.ts): for nodes whose process is not under test. */
export interface InProcessFleetAgent extends InProcessAgent {
  readonly node: string;
  readonly bind: string;
}

/** What tests ask of any fleet agent, spawned or in-process. */
export type AnyFleetAgent = FleetAgent | InProcessFleetAgent;

function fleetConfig(o: FleetAgentOptions, bind: string) {
  return {
    ...o.local,
    forward: { bind },
    cluster: { endpoints: o.endpoints, prefix: o.prefix, node: o.node, lease_ttl: TEST_LEASE_TTL },
  };
}

/** An agent in a fleet, serving fleet apps on its own loopback address. */
export async function startFleetAgent(o: FleetAgentOptions): Promise<FleetAgent> {
  const bind = `127.0.0.${o.octet}`;
  const agent = await startAgent({ config: fleetConfig(o, bind), logLevel: 'info', ...(o.stateDir ? { stateDir: o.stateDir } : {}) });
  return Object.assign(agent, { node: o.node, bind });
}

/** The same node as startFleetAgent, built in this process: no node start per agent. */
export async function startInProcessFleetAgent(o: FleetAgentOptions): Promise<InProcessFleetAgent> {
  const bind = `127.0.0.${o.octet}`;
  const agent = await startInProcessAgent({ config: fleetConfig(o, bind), logLevel: 'info', ...(o.stateDir ? { stateDir: o.stateDir } : {}) });
  return Object.assign(agent, { node: o.node, bind });
}

/**
 * Agents started one after the other: started at once they share the CPU of a loaded box
 * and each takes as long as all of them (the helper gives an agent 20 s to answer).
 */
export async function startFleetAgents(list: readonly FleetAgentOptions[]): Promise<FleetAgent[]> {
  const agents: FleetAgent[] = [];
  for (const o of list) agents.push(await startFleetAgent(o));
  return agents;
}

export const fleetStatus = (agent: Pick<TestAgent, 'rpc'>): Promise<FleetStatus> => agent.rpc<FleetStatus>('fleet.status');

/** Waits until every agent's own node record says it runs `revision`. */
export async function waitApplied(agents: readonly AnyFleetAgent[], revision: number, timeoutMs = 10_000): Promise<void> {
  await Promise.all(
    agents.map((a) =>
      waitFor(`${a.node} at config revision ${revision}`, async () => {
        const info = await a.rpc<{ fleet?: { applied_revision: number } }>('agent.status');
        return info.fleet?.applied_revision === revision;
      }, { timeoutMs, intervalMs: 20 }),
    ),
  );
}

/** Resolves true when host:port accepts a TCP connection. */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Writes a fleet file into a temp dir and returns its path. */
export function fleetFile(content: unknown): string {
  const path = join(tempDir('pxc-fleetfile-'), 'fleet.json');
  writeFileSync(path, JSON.stringify(content, null, 2));
  return path;
}
