import type * as Undici from 'undici';
import { lazyRequire } from '../lazy-require.js';

/**
 * undici, the agent's HTTP client (downloads, health checks, PAC files, instance probes,
 * JSON-RPC), required at the first request: ~110 modules and ~120 ms of CPU that an agent
 * without downloads, services or proxy health checks never needs.
 */
export const undici = lazyRequire<typeof Undici>('undici');
