import { randomInt } from 'node:crypto';
import { rendezvousOrder } from '../net/rendezvous.js';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProxyctlError } from '../errors.js';
import { assertTrustedModule } from './module-trust.js';

/**
 * Selection policies (cvmfs's ProxySelectionPolicy): given a job and the
 * members of the active group, `setPreferredProxy` orders the members for the
 * job; `handleFailure` moves the job on after a proxy error. The router skips
 * members that are unhealthy or already failed for the job, so a policy only
 * says the order.
 *
 * A custom policy is a JS module (path in `proxy.policy`) exporting both
 * functions with these signatures; it gets the same PolicyJob.
 */

export interface PolicyMember {
  /** `http://host:port` or `DIRECT`. */
  readonly address: string;
  readonly healthy: boolean;
  /** This job already failed through this member. */
  readonly failed: boolean;
}

export interface PolicyJob {
  /** Sharding key: sha256 when the job has one, else its URL. */
  readonly key: string;
  readonly url: string;
  /** Index of the active group. */
  readonly group: number;
  /** The active group's members, in the order of the proxy string. */
  readonly members: readonly PolicyMember[];
  /** Member indices in the order to try them. setPreferredProxy sets it. */
  order: number[];
  /** Position in `order` of the member to use now. */
  index: number;
  /** The policy's own per-job data (cvmfs's proxy_policy_custom_data). */
  data: unknown;
}

export interface SelectionPolicy {
  /** `default`, `sharding`, or the module path. */
  readonly name: string;
  /**
   * Whether the connections of one job may spread over the group's members (the
   * default policy), or all go to its preferred member (sharding, custom: cache locality).
   */
  readonly spread?: boolean;
  setPreferredProxy(job: PolicyJob): void;
  handleFailure(job: PolicyJob, error: Error): void;
}

/** Fisher–Yates with crypto randomness: every order equally likely. */
export function shuffle(n: number, random: (max: number) => number = randomInt): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = random(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** `default`: a random member first, then the others in a shuffled order. */
export function defaultPolicy(random?: (max: number) => number): SelectionPolicy {
  return {
    name: 'default',
    spread: true,
    setPreferredProxy(job) {
      job.order = shuffle(job.members.length, random);
      job.index = 0;
    },
    handleFailure(job) {
      job.index++;
    },
  };
}

/**
 * `sharding`: members by highest random weight for the job's key (src/net/rendezvous.ts, the app proxies' hash too). One key always
 * prefers the same proxy; removing one of N moves only the keys it owned.
 */
export function shardingPolicy(): SelectionPolicy {
  return {
    name: 'sharding',
    setPreferredProxy(job) {
      job.order = rendezvousOrder(job.key, job.members.map((m) => m.address));
      job.index = 0;
    },
    handleFailure(job) {
      job.index++;
    },
  };
}

export { BUILTIN_POLICIES } from '../config/schema.js';

/** A policy name that means a module file: it has a slash or ends in .js/.mjs/.cjs. */
export function isModulePath(name: string): boolean {
  return /[/\\]|\.[cm]?js$/.test(name);
}

/**
 * The policy named by `proxy.policy`: `default`, `sharding`, or a path to a JS
 * module (relative paths resolve against `baseDir`, the agent's working
 * directory), loaded only when nobody but the agent's user or root can change
 * it (assertTrustedModule). The module is imported afresh each time so a
 * reload picks up an edited file.
 */
export async function loadPolicy(name: string, baseDir: string): Promise<SelectionPolicy> {
  if (name === 'default') return defaultPolicy();
  if (name === 'sharding') return shardingPolicy();
  if (!isModulePath(name)) {
    throw new ProxyctlError('PXC_ERR_BAD_POLICY', `unknown proxy policy "${name}" (use default, sharding, or a path to a JS module)`);
  }
  const path = isAbsolute(name) ? name : resolve(baseDir, name);
  assertTrustedModule(path);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`${pathToFileURL(path).href}?v=${Date.now()}`)) as Record<string, unknown>;
  } catch (err) {
    throw new ProxyctlError('PXC_ERR_BAD_POLICY', `proxy policy module ${path}: cannot load: ${(err as Error).message}`, { cause: err });
  }
  const src = (typeof mod.setPreferredProxy === 'function' ? mod : (mod.default as Record<string, unknown> | undefined)) ?? {};
  const missing = ['setPreferredProxy', 'handleFailure'].filter((f) => typeof src[f] !== 'function');
  if (missing.length > 0) {
    throw new ProxyctlError('PXC_ERR_BAD_POLICY', `proxy policy module ${path} must export setPreferredProxy(job) and handleFailure(job, error); missing: ${missing.join(', ')}`);
  }
  const set = src.setPreferredProxy as SelectionPolicy['setPreferredProxy'];
  const fail = src.handleFailure as SelectionPolicy['handleFailure'];
  return {
    name,
    setPreferredProxy: (job) => set(job),
    handleFailure: (job, error) => fail(job, error),
  };
}
