import { readFile } from 'node:fs/promises';
import type { ZodIssue } from 'zod';
import { formatPath, ProxyctlError } from '../errors.js';
import { REMOVED_KEYS, configSchema, type Config } from './schema.js';

/** A config that failed: every problem, each naming its path (`apps[2].ports[0]: …`). */
export class ConfigError extends ProxyctlError {
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[], options?: { cause?: unknown }) {
    super('PXC_ERR_CONFIG', `${source}: ${problems.length === 1 ? problems[0] : `${problems.length} errors:\n  ${problems.join('\n  ')}`}`, options);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function describeIssue(issue: ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const removed = issue.keys.map((k) => formatPath([...issue.path, k])).find((k) => REMOVED_KEYS[k]);
    if (removed) return `${removed}: ${REMOVED_KEYS[removed]}`;
  }
  if (issue.code === 'unrecognized_keys') return `${formatPath(issue.path)}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return `${formatPath(issue.path)}: required`;
  return `${formatPath(issue.path)}: ${issue.message}`;
}

/** Validates a parsed JSON value; throws ConfigError listing every problem. */
export function parseConfig(value: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(value ?? {});
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue));
  return result.data;
}

/** The embedded defaults: what the agent runs with when there is no config file. */
export function defaultConfig(): Config {
  return parseConfig({}, 'defaults');
}

/** Reads and validates a config file; `null` path means the embedded defaults. */
export async function loadConfig(path: string | null): Promise<Config> {
  return parseConfig(await readConfigJson(path), path ?? 'defaults');
}

/**
 * A config file's JSON, not yet validated (`{}` for a `null` path): what a fleet
 * overlays its documents on before the one validation.
 */
export async function readConfigJson(path: string | null): Promise<unknown> {
  if (path === null) return {};
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}`], { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid JSON: ${(err as Error).message}`], { cause: err });
  }
}
