import { z } from 'zod';
import { defineCommand } from '../control/registry.js';
import { ProxyctlError } from '../errors.js';

/**
 * The `proxy *` control commands (talk and JSON-RPC), after cvmfs_talk:
 *   proxy info | set SPEC | fallback SPEC | rebalance | group switch | reset | policy [NAME] | health
 *   timeout info | timeout set PROXY_S DIRECT_S | reset error counters
 */

/** unknown: not probed and no request through it yet (it takes traffic meanwhile). */
export type ProxyState = 'unknown' | 'healthy' | 'unhealthy' | 'direct';

export interface ProxyInfoMember {
  address: string;
  state: ProxyState;
  /** False only when marked unhealthy (an unknown member counts as healthy for selection). */
  healthy: boolean;
  /** What the host name resolved to (cached; proxy rebalance looks again); null for DIRECT or a failed lookup. */
  addresses: string[] | null;
  /** Why the lookup failed (ENOTFOUND, …), else null. */
  address_error: string | null;
  /** ISO time of the last health probe, null before the first. */
  last_check: string | null;
  latency_ms: number | null;
  /** Proxy errors counted against this member. */
  failures: number;
}

export interface ProxyInfoGroup {
  index: number;
  fallback: boolean;
  /** The group came from the PAC files (it stands where `auto` is written). */
  pac: boolean;
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
  /** Seconds before reset_after returns the list to group 0 (when group 0 has a healthy member then); null on group 0. */
  reset_in_s: number | null;
  /** The groups before the fallbacks, as a proxy string. */
  spec: string;
  fallback_spec: string;
  /** `auto` in the proxy string: where its proxies came from; null when the string has no `auto`. */
  pac: ProxyInfoPac | null;
  groups: ProxyInfoGroup[];
}

export interface ProxyInfoPac {
  /** proxy.pac_urls, tried in order. */
  urls: string[];
  /** The URL FindProxyForURL is asked about. */
  query_url: string;
  /** The PAC URL of the last resolution that worked, null if none ever did. */
  source: string | null;
  /** FindProxyForURL's answer then, e.g. "PROXY a:3128; DIRECT". */
  result: string | null;
  /** What `auto` stands for, as a proxy string. */
  resolved: string | null;
  resolved_at: string | null;
  /** Entries of the answer that could not be used (SOCKS, malformed). */
  skipped: string[];
  /** The last attempt's failure (the groups above are kept), null when it worked. */
  error: string | null;
  refresh_s: number;
}

export interface TimeoutInfo {
  /** proxy.timeout: connect/response timeout through a proxy, seconds. */
  proxy_s: number;
  /** proxy.timeout_direct: the same without a proxy. */
  direct_s: number;
  /** Where each comes from: the config (file or default), or `timeout set` (kept until proxy reset). */
  source: { proxy: 'config' | 'run-time'; direct: 'config' | 'run-time' };
}

export interface ResetErrorsResult {
  /** Members whose counters were reset. */
  proxies: number;
}

export interface HealthRow {
  proxy: string;
  group: number;
  active: boolean;
  state: ProxyState;
  last_check: string | null;
  latency_ms: number | null;
  failures: number;
  slow: number;
  last_error: string | null;
}

/** What the commands need from the subsystem. */
export interface UpstreamControl {
  info(): Promise<ProxyInfo>;
  health(): HealthRow[];
  set(spec: string): Promise<void>;
  fallback(spec: string): void;
  rebalance(): Promise<{ revision: number }>;
  timeoutInfo(): TimeoutInfo;
  setTimeouts(proxyS: number, directS: number): TimeoutInfo;
  resetErrors(): ResetErrorsResult;
  switchGroup(): void;
  reset(): Promise<void>;
  currentPolicy(): string;
  setPolicy(name: string): Promise<void>;
}

const spec = (what: string) =>
  z.object({ spec: z.string({ required_error: `${what} is required` }).describe(`proxy string: ";" separates groups, "|" members, DIRECT = no proxy`) }).strict();

/** A timeout in seconds: positive and finite; the message names the argument. */
const seconds = (name: string) =>
  z.number({ required_error: `${name} is required`, invalid_type_error: 'must be a number of seconds' }).refine((n) => Number.isFinite(n) && n > 0, (n) => ({ message: `must be a positive number of seconds (got ${n})` }));

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
      handler: (): Promise<ProxyInfo> => up.info(),
    }),
    defineCommand({
      method: 'proxy.set',
      talk: 'proxy set',
      usage: 'SPEC',
      summary: 'replace the proxy groups (kept across restarts until proxy reset)',
      params: spec('spec'),
      fromTalk: specFromTalk('proxy set', false),
      handler: async ({ spec: s }): Promise<null> => {
        if (s.trim() === '') throw new ProxyctlError('PXC_ERR_BAD_PROXY_SPEC', 'proxy set: empty proxy string (use DIRECT for no proxy)');
        await up.set(s);
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
      summary: 're-draw the random orders, clear failure marks, look up the proxies\' addresses and (auto) the PAC files again',
      params: none,
      handler: (): Promise<{ revision: number }> => up.rebalance(),
      renderText: () => 'OK',
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
    defineCommand({
      method: 'timeout.info',
      talk: 'timeout info',
      summary: 'connect/response timeouts through a proxy and without one (seconds)',
      params: none,
      handler: (): TimeoutInfo => up.timeoutInfo(),
    }),
    defineCommand({
      method: 'timeout.set',
      talk: 'timeout set',
      usage: 'PROXY_S DIRECT_S',
      summary: 'set both timeouts at run time (kept across restarts until proxy reset)',
      params: z
        .object({
          proxy_s: seconds('proxy_s').describe('timeout through a proxy, seconds'),
          direct_s: seconds('direct_s').describe('timeout without a proxy, seconds'),
        })
        .strict(),
      fromTalk: (args) => {
        if (args.length !== 2) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'timeout set: expected PROXY_S DIRECT_S (seconds), e.g. timeout set 5 10');
        const [proxy, direct] = args.map((a, i) => {
          const n = Number(a);
          if (a.trim() === '' || Number.isNaN(n)) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `timeout set: ${i === 0 ? 'PROXY_S' : 'DIRECT_S'} "${a}" is not a number of seconds`);
          return n;
        });
        return { proxy_s: proxy!, direct_s: direct! };
      },
      handler: ({ proxy_s, direct_s }): TimeoutInfo => up.setTimeouts(proxy_s, direct_s),
    }),
    defineCommand({
      method: 'proxy.reset_errors',
      talk: 'reset error counters',
      summary: "zero every proxy's failure, host failure and slow-transfer counts (the Prometheus counters keep counting)",
      params: none,
      handler: (): ResetErrorsResult => up.resetErrors(),
      renderText: () => 'OK',
    }),
  ] as const;
}
