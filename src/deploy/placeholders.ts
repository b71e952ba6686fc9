import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Placeholders in a service's command, env values and cwd, so a config file
 * does not depend on where the agent was started from:
 *   {proxyctl}   absolute path of this package's bin/run.js (the built-in data proxy: "node {proxyctl} data-proxy")
 *   {node}       the agent's node binary (process.execPath)
 *   {state_dir}  the agent's state directory
 * Anything else in braces is left as written.
 */

export interface PlaceholderValues {
  proxyctl: string;
  node: string;
  state_dir: string;
}

export function expandPlaceholders(s: string, values: PlaceholderValues): string {
  return s.replace(/\{(proxyctl|node|state_dir)\}/g, (_, k: keyof PlaceholderValues) => values[k]);
}

let binPath: string | undefined;

/** bin/run.js of this package, found by walking up from this module (src/ under tsx/vitest, dist/src/ when built). */
export function proxyctlBin(): string {
  if (binPath) return binPath;
  let dir = import.meta.dirname;
  for (;;) {
    const candidate = join(dir, 'bin', 'run.js');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return (binPath = candidate);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find bin/run.js above ${import.meta.dirname}`);
    dir = up;
  }
}
