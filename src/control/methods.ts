import type { AgentMethods } from '../agent/core-commands.js';
import type { ParametersMethods } from '../agent/parameters.js';
import type { EventMethods } from './event-commands.js';
import type { DeployMethods } from '../deploy/commands.js';
import type { DownloadMethods } from '../download/commands.js';
import type { FleetMethods } from '../fleet/commands.js';
import type { ForwardMethods } from '../forward/commands.js';
import type { UpstreamMethods } from '../upstream/commands.js';

/**
 * Every control method's params and result, for the CLI's typed client
 * (`import type` only: the CLI never loads agent code at run time).
 * Each subsystem exports the MethodMap of its commands; intersect it here.
 */
export type Methods = AgentMethods & ParametersMethods & EventMethods & ForwardMethods & DeployMethods & DownloadMethods & UpstreamMethods & FleetMethods;
