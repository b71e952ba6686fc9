import type { AgentMethods } from '../agent/command-list.js';

/**
 * Every control method's params and result, for the CLI's typed client
 * (`import type` only: the CLI never loads agent code at run time), derived
 * from the one list of commands the agent registers (src/agent/command-list.ts).
 */
export type Methods = AgentMethods;
