import type { Subsystem, SubsystemContext } from './subsystem.js';

/**
 * The agent's subsystems, in start order (closed in reverse). A subsystem that
 * serves another gets its public API here, never its internals:
 *   upstream → downloads (the proxy router), forward → deploy (app targets).
 */
export function createSubsystems(ctx: SubsystemContext): Subsystem[] {
  void ctx;
  return [];
}
