import type { ServiceConfig } from '../config/schema.js';

/**
 * A release: one version of a service, what its instances run. It is made
 * from the config by a deploy (or from an earlier release by a rollback),
 * never changes afterwards, and is kept in state.db, so restarts, scale-ups
 * and the agent's own restart launch exactly what that version ran, whatever
 * the config says by then. Placeholders stay unexpanded: `{proxyctl}` is
 * this agent's at each launch.
 */
export interface ReleaseSpec {
  command: string[];
  env: Record<string, string>;
  cwd: string | null;
}

export interface Release extends ReleaseSpec {
  version: number;
  /** ISO 8601. */
  created_at: string;
  /** config: made from the config file; rollback: a copy of `rollback_of`'s spec. */
  source: 'config' | 'rollback';
  rollback_of: number | null;
}

export function specOf(config: ServiceConfig): ReleaseSpec {
  return { command: [...config.command], env: { ...config.env }, cwd: config.cwd };
}

export function sameSpec(a: ReleaseSpec, b: ReleaseSpec): boolean {
  return JSON.stringify([a.command, sortedEntries(a.env), a.cwd]) === JSON.stringify([b.command, sortedEntries(b.env), b.cwd]);
}

function sortedEntries(env: Record<string, string>): [string, string][] {
  return Object.entries(env).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
