import type { Subsystem, SubsystemContext } from '../agent/subsystem.js';
import type { ClusterConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import { fleetCommands, type FleetControl } from './commands.js';
import type { FleetSnapshot } from './documents.js';

/**
 * What the agent needs from the fleet, and what the fleet needs from the
 * agent. This file loads no etcd code: an agent without a `cluster` key
 * imports it (for the overlay and the "not in a fleet" answers) and nothing
 * else of src/fleet; `startFleet` loads the rest only when there is a cluster.
 */

export { FLEET_WIDE_KEYS, overlayFleet, type FleetDocs, type FleetSnapshot } from './documents.js';

/** A rolling deploy this node started for a fleet deploy. */
export interface LocalDeploy {
  from_version: number | null;
  version: number;
  done: Promise<{ result: 'succeeded' | 'failed'; version: number; error: string | null }>;
}

/** The node's own state, for its node record. */
export interface NodeLocalStatus {
  engine: string;
  apps: Array<{ name: string; up: boolean }>;
  services: Array<{ name: string; version: number | null; state: string }>;
}

/** Implemented by the agent: the fleet acts on the node only through this. */
export interface FleetHost {
  /**
   * Runs the local file overlaid by the snapshot's documents, through the same
   * validated reload as `agent reload`. Throws (a ConfigError naming each
   * problem) and changes nothing when that config does not validate.
   */
  apply(snapshot: FleetSnapshot): Promise<void>;
  status(): NodeLocalStatus;
  /** Starts the node's own rolling deploy of the service; throws when it cannot start. */
  deploy(service: string): LocalDeploy;
}

/** The fleet part of `agent status`. */
export interface FleetAgentInfo {
  node: string;
  prefix: string;
  endpoints: string[];
  connected: boolean;
  /** ISO 8601: connected since, or disconnected since. */
  since: string;
  /** The fleet config revision this node runs (0: none). */
  applied_revision: number;
  /** The newest fleet config revision this node has seen. */
  latest_revision: number;
  /** Why the node refused the newest revision, if it did. */
  error: string | null;
}

/** The fleet as the agent holds it: a subsystem that also feeds the agent's reloads. */
export interface FleetNode extends Subsystem {
  /** The documents to overlay now: the newest known (from etcd, or state.db until etcd answers). */
  snapshot(): FleetSnapshot | null;
  /** The agent now runs this snapshot (a fleet apply, or a file reload over it). */
  applied(snapshot: FleetSnapshot): void;
  /** The agent could not run this snapshot (at start); it says why in its node record. */
  refused(snapshot: FleetSnapshot, message: string): void;
  info(): FleetAgentInfo;
}

export interface FleetContext extends SubsystemContext {
  readonly cluster: ClusterConfig;
  readonly host: FleetHost;
}

/** The fleet commands, answered by a fleet node or by an agent without one alike. */
export type FleetCommands = ReturnType<typeof fleetCommands>;

/** Joins the fleet: loads the etcd client and the fleet's parts (connecting starts with `start()`). */
export async function startFleet(ctx: FleetContext): Promise<{ subsystem: FleetNode; commands: FleetCommands }> {
  const { Fleet } = await import('./subsystem.js');
  const fleet = new Fleet(ctx);
  return { subsystem: fleet, commands: fleetCommands(fleet) };
}

/** An agent without `cluster` answers the fleet commands with PXC_ERR_NOT_IN_FLEET. */
export function noFleet(): { commands: FleetCommands } {
  const no = (): never => {
    throw new ProxyctlError('PXC_ERR_NOT_IN_FLEET', 'this agent is not in a fleet: its config has no cluster key (see proxyctl.conf(5), cluster)');
  };
  const control: FleetControl = { status: no, get: no, push: no, diff: no, setProxy: no, deploy: no, rollout: no, events: no };
  return { commands: fleetCommands(control) };
}
