import { createRequire } from 'node:module';
import type * as Undici from 'undici';

// Loaded at the first request, not at import: undici is ~110 modules and ~120 ms of CPU that an
// agent starting without downloads, services or proxy health checks (and every CLI run) never needs.
let loaded: typeof Undici | undefined;

/** undici, required on first use (the agent's HTTP client: downloads, health checks, instance probes, JSON-RPC). */
export const undici = (): typeof Undici => (loaded ??= createRequire(import.meta.url)('undici') as typeof Undici);
