import type { Config } from '../config/schema.js';
import type { FleetHost, FleetSnapshot, LocalDeploy, NodeLocalStatus } from '../fleet/api.js';
import type { AgentParts } from './subsystems.js';

/**
 * The agent as the fleet sees it (src/fleet/api.ts, FleetHost): the apply
 * path is the agent's own reload; status and deploys go to forward and
 * deploy, which know nothing of the fleet.
 */
export function fleetHost(agent: { apply(snapshot: FleetSnapshot): Promise<void>; config(): Config; parts(): AgentParts | undefined; engine(): string | null }): FleetHost {
  return {
    apply: (snapshot) => agent.apply(snapshot),
    status(): NodeLocalStatus {
      const parts = agent.parts();
      return {
        // the engine running, not the one configured: `auto`, or `native` fallen back to node
        engine: agent.engine() ?? agent.config().forward.engine,
        apps: parts ? parts.forward.list().map((a) => ({ name: a.name, up: a.ports.every((p) => p.state === 'listening') })) : [],
        services: parts ? parts.deploy.list().map((c) => ({ name: c.name, version: c.summary().current?.version ?? null, state: c.state })) : [],
      };
    },
    deploy(service): LocalDeploy {
      const parts = agent.parts();
      if (!parts) throw new Error('the agent is still starting');
      const controller = parts.deploy.controller(service);
      const started = controller.deploy();
      const done = controller.settled()!.then((r) => ({ result: r.result === 'succeeded' ? ('succeeded' as const) : ('failed' as const), version: r.version, error: r.error }));
      return { from_version: started.from_version, version: started.version, done };
    },
  };
}
