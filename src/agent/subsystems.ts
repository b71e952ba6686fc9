import { createDeploy } from '../deploy/subsystem.js';
import { directRouter } from '../download/direct-router.js';
import { createDownloads } from '../download/subsystem.js';
import { createForward } from '../forward/forward.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';

/**
 * The agent's subsystems, in start order (closed in reverse). A subsystem that
 * serves another gets its public API here, never its internals:
 *   upstream → downloads (the proxy router), forward → deploy (app targets).
 */
export function createSubsystems(ctx: SubsystemContext): Subsystem[] {
  // DIRECT until the upstream subsystem provides its router.
  const downloads = createDownloads(ctx, directRouter(ctx.config.downloads.timeout * 1000));
  const forward = createForward(ctx);
  const deploy = createDeploy(ctx, forward.targets);
  return [downloads, forward, deploy];
}
