import type { MethodMap } from '../control/registry.js';
import { eventCommands } from '../control/event-commands.js';
import type { EventBus } from '../control/events.js';
import type { FleetCommands } from '../fleet/api.js';
import { coreCommands, type AgentControl } from './core-commands.js';
import type { parametersCommands } from './parameters.js';
import type { AgentParts } from './subsystems.js';

/**
 * Every control command of the agent, in one list the agent registers once,
 * before the socket answers: its own (status, reload, stats, help, …), the
 * event subscriptions, `parameters`, the fleet's (answered "not in a fleet" without one) and
 * every subsystem's. The CLI's `Methods` is this list's type.
 */
export function agentCommands(agent: AgentControl, events: EventBus, fleet: FleetCommands, parts: AgentParts, parameters: ReturnType<typeof parametersCommands>) {
  return [...coreCommands(agent), ...parameters, ...eventCommands(events), ...fleet, ...parts.commands] as const;
}

export type AgentCommands = ReturnType<typeof agentCommands>;
export type AgentMethods = MethodMap<AgentCommands>;
