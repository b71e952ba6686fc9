import type { Config } from './schema.js';

/**
 * `parameters` (cvmfs_talk's): every key of the effective config with its
 * value and where that value comes from:
 *   default   the schema's default (nobody wrote the key)
 *   file      the config file
 *   fleet     a fleet document in etcd (the key is not in the file)
 *   run-time  a change over the control socket (proxy set, timeout set, …;
 *             target add/remove/weight make `apps` one, service scale
 *             `services`), kept in the state DB until the subsystem's reset
 * A key is a dotted path down to a value that is not an object: arrays
 * (apps, services, pac_urls) are one value each.
 */

export type ParameterSource = 'default' | 'file' | 'fleet' | 'run-time';

export interface ParameterRow {
  key: string;
  value: unknown;
  source: ParameterSource;
}

export interface ParameterLayers {
  /** The config file's JSON as last read (undefined: no file, `{}`). */
  readonly file: unknown;
  /** The file overlaid by the fleet documents, in a fleet. */
  readonly fleet?: unknown;
  /** Run-time overrides by dotted key (each subsystem's `runtimeParameters()`). */
  readonly runtime: Readonly<Record<string, unknown>>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a JSON value has a key at `path` (the Fly form `Apps` counts as `apps`). */
function has(json: unknown, path: readonly string[]): boolean {
  let node = json;
  for (const [i, part] of path.entries()) {
    if (!isObject(node)) return false;
    if (i === 0 && part === 'apps' && Object.hasOwn(node, 'Apps')) return true;
    if (!Object.hasOwn(node, part)) return false;
    node = node[part];
  }
  return true;
}

export function configParameters(config: Config, layers: ParameterLayers): ParameterRow[] {
  const rows: ParameterRow[] = [];
  const walk = (node: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(node)) {
      if (v === undefined) continue;
      const at = [...path, k];
      if (isObject(v)) {
        walk(v, at);
        continue;
      }
      const key = at.join('.');
      if (Object.hasOwn(layers.runtime, key)) rows.push({ key, value: layers.runtime[key], source: 'run-time' });
      else rows.push({ key, value: v, source: has(layers.file, at) ? 'file' : layers.fleet !== undefined && has(layers.fleet, at) ? 'fleet' : 'default' });
    }
  };
  walk(config as unknown as Record<string, unknown>, []);
  return rows;
}

/** cvmfs_talk's layout: `key=value    # source`, values as JSON. */
export function renderParameters(rows: readonly ParameterRow[]): string {
  const cells = rows.map((r) => `${r.key}=${JSON.stringify(r.value)}`);
  const width = Math.min(72, Math.max(0, ...cells.map((c) => c.length)));
  return rows.map((r, i) => `${cells[i]!.padEnd(width)}    # ${r.source}`).join('\n');
}
