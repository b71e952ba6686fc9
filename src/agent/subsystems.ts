import { createDeploy } from '../deploy/subsystem.js';
import { createDownloads } from '../download/subsystem.js';
import { createForward } from '../forward/forward.js';
import { createMetrics } from '../stats/prometheus.js';
import { createUpstream } from '../upstream/subsystem.js';
import type { SubsystemContext } from './subsystem.js';

/**
 * The agent's subsystems, in start order (closed in reverse), and their
 * control commands in one list. A subsystem that serves another gets its
 * public API here, never its internals:
 *   upstream → downloads (the proxy router), forward → deploy (app targets).
 * Forward and deploy are also returned whole: the fleet reports on them and
 * deploys through them (fleet-host.ts).
 */
export function createSubsystems(ctx: SubsystemContext) {
  const upstream = createUpstream(ctx);
  const downloads = createDownloads(ctx, upstream.api);
  const forward = createForward(ctx);
  const deploy = createDeploy(ctx, { targets: forward.api });
  // Last: /metrics and /healthz answer once everything they report on is up.
  const metrics = createMetrics(ctx);
  return {
    subsystems: [upstream.subsystem, downloads.subsystem, forward.subsystem, deploy.subsystem, metrics.subsystem],
    commands: [...upstream.commands, ...downloads.commands, ...forward.commands, ...deploy.commands, ...metrics.commands] as const,
    forward: forward.subsystem,
    deploy: deploy.subsystem,
    metrics: metrics.api,
  };
}

export type AgentParts = ReturnType<typeof createSubsystems>;
