import { createDeploy, type DeploySubsystem } from '../deploy/subsystem.js';
import { createDownloads } from '../download/subsystem.js';
import { createForward, type Forward } from '../forward/forward.js';
import { createMetrics } from '../stats/prometheus.js';
import { createUpstream } from '../upstream/subsystem.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

/** The subsystems in start order, and the two the fleet reports on and deploys through. */
export interface AgentParts {
  subsystems: Subsystem[];
  forward: Forward;
  deploy: DeploySubsystem;
}

/**
 * The agent's subsystems, in start order (closed in reverse). A subsystem that
 * serves another gets its public API here, never its internals:
 *   upstream → downloads (the proxy router), forward → deploy (app targets).
 */
export function createSubsystems(ctx: SubsystemContext): AgentParts {
  const upstream = createUpstream(ctx);
  const downloads = createDownloads(ctx, upstream.router);
  const forward = createForward(ctx);
  const deploy = createDeploy(ctx, forward.targets);
  // Last: /metrics and /healthz answer once everything they report on is up.
  const metrics = createMetrics(ctx);
  return { subsystems: [upstream.subsystem, downloads, forward, deploy, metrics], forward, deploy };
}
