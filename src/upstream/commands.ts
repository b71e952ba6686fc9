import { z } from 'zod';
import { defineCommand } from '../control/registry.js';
import { ProxyctlError } from '../errors.js';

/**
 * The `proxy *` control commands (talk and JSON-RPC), after cvmfs_talk:
 *   proxy info | set SPEC | fallback SPEC | rebalance | group switch | reset | policy [NAME] | health
 */

export interface ProxyInfoMember {
  address: string;
  healthy: boolean;
  /** ISO time of the last health probe, null before the first. */
  last_check: string | null;
  latency_ms: number | null;
  /** Proxy errors counted against this member. */
  failures: number;
}

export interface ProxyInfoGroup {
  index: number;
  fallback: boolean;
  healthy: boolean;
  proxies: ProxyInfoMember[];
}

export interface ProxyInfo {
  revision: number;
  policy: string;
  active_group: number;
  /** The member actually in use (`DIRECT` or `http://host:port`). */
  active_proxy: string;
  first_fallback_group: number | null;
  /** The groups before the fallbacks, as a proxy string. */
  spec: string;
  fallback_spec: string;
  groups: ProxyInfoGroup[];
}

export interface HealthRow {
  proxy: string;
  group: number;
  active: boolean;
  state: 'healthy' | 'unhealthy' | 'direct';
  last_check: string | null;
  latency_ms: number | null;
  failures: number;
  slow: number;
  last_error: string | null;
}

/** What the commands need from the subsystem. */
export interface UpstreamControl {
  info(): ProxyInfo;
  health(): HealthRow[];
  set(spec: string): void;
  fallback(spec: string): void;
  rebalance(): void;
  switchGroup(): void;
  reset(): Promise<void>;
  currentPolicy(): string;
  setPolicy(name: string): Promise<void>;
}

const spec = (what: string) =>
  z.object({ spec: z.string({ required_error: `${what} is required` }).describe(`proxy string: ";" separates groups, "|" members, DIRECT = no proxy`) }).strict();

function specFromTalk(command: string, allowEmpty: boolean) {
  return (_args: readonly string[], rest: string) => {
    if (!allowEmpty && rest.trim() === '') throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: missing SPEC (e.g. ${command} http://a:3128|http://b:3128;DIRECT)`);
    return { spec: rest.trim() };
  };
}

export function upstreamCommands(up: UpstreamControl) {
  const none = z.object({}).strict();
  return [
    defineCommand({
      method: 'proxy.info',
      talk: 'proxy info',
      summary: 'load-balance groups, the active proxy, revision and policy',
      params: none,
      handler: (): ProxyInfo => up.info(),
    }),
    defineCommand({
      method: 'proxy.set',
      talk: 'proxy set',
      usage: 'SPEC',
      summary: 'replace the proxy groups (kept across restarts until proxy reset)',
      params: spec('spec'),
      fromTalk: specFromTalk('proxy set', false),
      handler: ({ spec: s }): null => {
        if (s.trim() === '') throw new ProxyctlError('PXC_ERR_BAD_PROXY_SPEC', 'proxy set: empty proxy string (use DIRECT for no proxy)');
        up.set(s);
        return null;
      },
    }),
    defineCommand({
      method: 'proxy.fallback',
      talk: 'proxy fallback',
      usage: 'SPEC',
      summary: 'replace the fallback proxies ("" over JSON-RPC clears them)',
      params: spec('spec'),
      fromTalk: specFromTalk('proxy fallback', false),
      handler: ({ spec: s }): null => {
        up.fallback(s);
        return null;
      },
    }),
    defineCommand({
      method: 'proxy.rebalance',
      talk: 'proxy rebalance',
      summary: 're-draw the random orders and clear failure marks',
      params: none,
      handler: (): null => {
        up.rebalance();
        return null;
      },
    }),
    defineCommand({
      method: 'proxy.switch',
      talk: 'proxy group switch',
      summary: 'make the next group active',
      params: none,
      handler: (): null => {
        up.switchGroup();
        return null;
      },
    }),
    defineCommand({
      method: 'proxy.reset',
      talk: 'proxy reset',
      summary: 'drop run-time changes (set, fallback, policy): back to the config',
      params: none,
      handler: async (): Promise<null> => {
        await up.reset();
        return null;
      },
    }),
    defineCommand({
      method: 'proxy.policy',
      talk: 'proxy policy',
      usage: '[NAME]',
      summary: 'show the selection policy, or change it to default or sharding (a module only from the config file)',
      params: z.object({ name: z.string().min(1).optional().describe('default or sharding') }).strict(),
      fromTalk: (_args, rest) => (rest.trim() === '' ? {} : { name: rest.trim() }),
      handler: async ({ name }): Promise<string | null> => {
        if (name === undefined) return up.currentPolicy();
        await up.setPolicy(name);
        return null;
      },
    }),
    defineCommand({
      method: 'proxy.health',
      talk: 'proxy health',
      summary: 'per proxy: group, state, last check, latency, failures, slow transfers',
      params: none,
      handler: (): HealthRow[] => up.health(),
    }),
  ] as const;
}
