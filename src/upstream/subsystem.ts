import type { Config, ProxyConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { Subsystem, SubsystemContext, SubsystemParts } from '../agent/subsystem.js';
import type { AnyCommand } from '../control/registry.js';
import type { Counter } from '../stats/registry.js';
import type { ProxyRouter } from './api.js';
import { upstreamCommands, type HealthRow, type ProxyInfo } from './commands.js';
import { DispatcherPool, type DispatcherTimeouts } from './dispatchers.js';
import { ProxyHealthChecker, type ProxyHealthCheckerOptions } from './health-checker.js';
import { BUILTIN_POLICIES, defaultPolicy, isModulePath, loadPolicy, shardingPolicy, type SelectionPolicy } from './policies.js';
import { ProxyList } from './proxy-list.js';
import { buildProxyList, formatProxySpec, type ParsedProxyList } from '../config/proxy-spec.js';
import { UpstreamRouter, type RouterSettings } from './router.js';

/**
 * The upstream subsystem: the proxy list, its router (handed to the download
 * manager), the health checker, the `proxy *` control commands, and the
 * run-time overrides (`proxy set`, `proxy fallback`, `proxy policy`) kept in the
 * state DB until `proxy reset`.
 */

/** Run-time overrides of the config, persisted under STATE_KEY. */
export interface RuntimeOverrides {
  http_proxy?: string;
  fallback_proxy?: string;
  policy?: string;
}

export const STATE_KEY = 'upstream.runtime';

/** The upstream proxy list; its API is the router the downloads go through. */
export function createUpstream(ctx: SubsystemContext) {
  const s = new UpstreamSubsystem(ctx);
  return { subsystem: s, commands: upstreamCommands(s), api: s.router as ProxyRouter } satisfies SubsystemParts<UpstreamSubsystem, readonly AnyCommand[], ProxyRouter>;
}

function routerSettings(c: ProxyConfig): RouterSettings {
  return {
    timeoutMs: c.timeout * 1000,
    timeoutDirectMs: c.timeout_direct * 1000,
    lowSpeedLimit: c.low_speed_limit,
    backoffInitMs: c.backoff_init * 1000,
    backoffMaxMs: c.backoff_max * 1000,
    slowRetries: c.slow_retries,
    resetAfterMs: c.reset_after * 1000,
    optimisticReset: !c.health_check,
  };
}

function poolTimeouts(c: ProxyConfig): DispatcherTimeouts {
  return { proxyMs: c.timeout * 1000, directMs: c.timeout_direct * 1000 };
}

function checkerOptions(c: ProxyConfig): ProxyHealthCheckerOptions {
  return {
    healthyIntervalMs: c.healthy_check_rate * 1000,
    unhealthyIntervalMs: c.unhealthy_check_rate * 1000,
    timeoutMs: c.timeout * 1000,
    url: c.health_check_url,
    resetAfterMs: c.reset_after * 1000,
  };
}

function sameList(a: ParsedProxyList, b: ParsedProxyList): boolean {
  return formatProxySpec(a.groups) === formatProxySpec(b.groups) && a.fallbackStart === b.fallbackStart;
}

export class UpstreamSubsystem implements Subsystem {
  readonly name = 'upstream';
  readonly list: ProxyList;
  readonly router: UpstreamRouter;
  readonly checker: ProxyHealthChecker;
  /** One connection pool per member, shared by the downloads and the health probes. */
  readonly pool: DispatcherPool;
  readonly #ctx: SubsystemContext;
  #config: ProxyConfig;
  #runtime: RuntimeOverrides;
  #parsed: ParsedProxyList;
  readonly #switches: Counter;

  constructor(ctx: SubsystemContext) {
    this.#ctx = ctx;
    this.#config = ctx.config.proxy;
    this.#runtime = this.#restoreOverrides();
    this.#parsed = this.#effectiveList();
    const scope = ctx.stats.scope('upstream');
    this.#switches = scope.counter('group_switches', 'active group changes (failover, reset_after, proxy group switch)');
    const log = ctx.logger.child({ sub: 'upstream' });
    this.list = new ProxyList(this.#parsed, {
      minHealthy: this.#config.min_healthy,
      stats: scope,
      onSwitch: ({ from, to, reason }) => {
        this.#switches.inc();
        log.warn({ from, to, reason }, `proxy switch: group ${from} → ${to} (${reason})`);
        ctx.events.publish('proxy.switch', { from, to, reason, revision: this.list.revision });
      },
      onHealth: (proxy) => ctx.events.publish('proxy.health', { proxy: proxy.address, healthy: proxy.healthy, error: proxy.healthy ? null : proxy.lastError }),
    });
    scope.gauge('revision', 'proxy list revision (moves on set, switch, group health change)', () => this.list.revision);
    scope.gauge('active_group', 'index of the active group', () => this.list.activeGroupIndex);
    scope.text('active_proxy', 'the member in use', () => this.list.activeProxy().address);
    // Built-in policies apply at once; a module path loads in start() (async import).
    const policyName = this.#runtime.policy ?? this.#config.policy;
    const initial = policyName === 'sharding' ? shardingPolicy() : defaultPolicy();
    this.pool = new DispatcherPool(poolTimeouts(this.#config));
    this.router = new UpstreamRouter(this.list, this.pool, routerSettings(this.#config), initial, { warn: (m) => log.warn(m), info: (m) => log.info(m) });
    this.checker = new ProxyHealthChecker(this.list, this.pool, checkerOptions(this.#config), { info: (m) => log.info(m), warn: (m) => log.warn(m) });
    scope.gauge('health_probes', 'health probes completed', () => this.checker.probes);
  }

  /** Overrides from the state DB; one that no longer parses is dropped with a warning. */
  #restoreOverrides(): RuntimeOverrides {
    const saved = this.#ctx.state.get<RuntimeOverrides>(STATE_KEY) ?? {};
    if (saved.policy !== undefined && isModulePath(saved.policy)) {
      // Saved by an older agent that let the socket choose a module: never loaded again (it would run as the agent).
      this.#ctx.logger.warn({ policy: saved.policy }, `upstream: saved proxy policy "${saved.policy}" dropped: a policy module is only taken from the config file (proxy.policy)`);
      delete saved.policy;
      if (Object.keys(saved).length === 0) this.#ctx.state.delete(STATE_KEY);
      else this.#ctx.state.set(STATE_KEY, saved);
    }
    try {
      buildProxyList(saved.http_proxy ?? this.#config.http_proxy, saved.fallback_proxy ?? this.#config.fallback_proxy);
      if (Object.keys(saved).length > 0) this.#ctx.logger.info({ overrides: saved }, 'upstream: run-time proxy settings restored (proxy reset drops them)');
      return saved;
    } catch (err) {
      this.#ctx.logger.warn({ overrides: saved }, `upstream: saved run-time proxy list dropped: ${(err as Error).message}`);
      this.#ctx.state.delete(STATE_KEY);
      return {};
    }
  }

  #effectiveList(): ParsedProxyList {
    return buildProxyList(this.#runtime.http_proxy ?? this.#config.http_proxy, this.#runtime.fallback_proxy ?? this.#config.fallback_proxy);
  }

  #persist(): void {
    if (Object.keys(this.#runtime).length === 0) this.#ctx.state.delete(STATE_KEY);
    else this.#ctx.state.set(STATE_KEY, this.#runtime);
  }

  async start(): Promise<void> {
    const name = this.#runtime.policy ?? this.#config.policy;
    try {
      this.router.policy = await loadPolicy(name, process.cwd());
    } catch (err) {
      if (this.#runtime.policy === undefined) throw err;
      // A saved override that broke (module deleted) must not keep the agent down: fall back to the config.
      this.#ctx.logger.warn(`upstream: saved proxy policy dropped: ${(err as Error).message}`);
      delete this.#runtime.policy;
      this.#persist();
      this.router.policy = await loadPolicy(this.#config.policy, process.cwd());
    }
    if (this.#config.health_check) this.checker.start();
  }

  async reload(config: Config): Promise<void> {
    const log = this.#ctx.logger;
    this.#config = config.proxy;
    this.router.settings = routerSettings(this.#config);
    this.pool.setTimeouts(poolTimeouts(this.#config));
    this.checker.options = checkerOptions(this.#config);
    this.list.minHealthy = this.#config.min_healthy;
    if (Object.keys(this.#runtime).length > 0) log.info({ overrides: this.#runtime }, 'upstream: run-time proxy settings kept over the config (proxy reset drops them)');
    this.#applyList(log);
    if (this.#runtime.policy === undefined) {
      try {
        this.router.policy = await loadPolicy(this.#config.policy, process.cwd());
      } catch (err) {
        log.error(`upstream: proxy.policy refused, keeping "${this.router.policy.name}": ${(err as Error).message}`);
      }
    }
    if (this.#config.health_check) this.checker.start();
    else await this.checker.stop();
  }

  #applyList(log = this.#ctx.logger): void {
    let next: ParsedProxyList;
    try {
      next = this.#effectiveList();
    } catch (err) {
      log.error(`upstream: proxy list refused, the running list stays: ${(err as Error).message}`);
      return;
    }
    if (sameList(next, this.#parsed)) return;
    this.#parsed = next;
    this.list.set(next);
    this.#retainPools();
    log.info({ revision: this.list.revision }, `upstream: proxy list now ${formatProxySpec(next.groups)}`);
  }

  /** Closes the pools of members that left the list. */
  #retainPools(): void {
    this.pool.retain(new Set([...this.list.proxies()].map((p) => p.address)));
  }

  async close(): Promise<void> {
    await this.checker.stop();
    await this.pool.close();
    this.list.dispose();
  }

  // ---- control operations (the `proxy *` commands) ----

  info(): ProxyInfo {
    const list = this.list;
    const active = list.activeProxy();
    return {
      revision: list.revision,
      policy: this.router.policy.name,
      active_group: list.activeGroupIndex,
      active_proxy: active.address,
      first_fallback_group: list.fallbackStart,
      spec: formatProxySpec(list.groups.filter((g) => !g.fallback).map((g) => g.proxies.map((p) => p.address))),
      fallback_spec: formatProxySpec(list.groups.filter((g) => g.fallback).map((g) => g.proxies.map((p) => p.address))),
      groups: list.groups.map((g) => ({
        index: g.index,
        fallback: g.fallback,
        healthy: g.healthy,
        proxies: g.proxies.map((p) => ({
          address: p.address,
          healthy: p.healthy,
          last_check: p.lastCheck === null ? null : new Date(p.lastCheck).toISOString(),
          latency_ms: p.latencyMs,
          failures: p.metrics.failuresProxy.value,
        })),
      })),
    };
  }

  health(): HealthRow[] {
    return this.list.groups.flatMap((g) =>
      g.proxies.map((p) => ({
        proxy: p.address,
        group: g.index,
        active: g.index === this.list.activeGroupIndex,
        state: p.isDirect ? 'direct' : p.healthy ? 'healthy' : 'unhealthy',
        last_check: p.lastCheck === null ? null : new Date(p.lastCheck).toISOString(),
        latency_ms: p.latencyMs,
        failures: p.metrics.failuresProxy.value,
        slow: p.metrics.slow.value,
        last_error: p.lastError,
      })),
    );
  }

  /** `proxy set SPEC`: validated against the current fallbacks, applied, persisted. */
  set(spec: string): void {
    buildProxyList(spec, this.#runtime.fallback_proxy ?? this.#config.fallback_proxy);
    this.#runtime.http_proxy = spec.trim();
    this.#persist();
    this.#applyForced();
  }

  fallback(spec: string): void {
    buildProxyList(this.#runtime.http_proxy ?? this.#config.http_proxy, spec);
    this.#runtime.fallback_proxy = spec.trim();
    this.#persist();
    this.#applyForced();
  }

  /** A `proxy set` always starts a new revision, even with the same string (back to group 0, fresh plans). */
  #applyForced(): void {
    this.#parsed = this.#effectiveList();
    this.list.set(this.#parsed);
    this.#retainPools();
    this.#ctx.logger.info({ revision: this.list.revision }, `upstream: proxy list set to ${formatProxySpec(this.#parsed.groups)}`);
  }

  rebalance(): void {
    this.list.rebalance();
  }

  switchGroup(): void {
    this.list.switchNext('proxy group switch by the operator');
  }

  async reset(): Promise<void> {
    const policy = await loadPolicy(this.#config.policy, process.cwd());
    this.#runtime = {};
    this.#persist();
    this.router.policy = policy;
    this.#applyForced();
  }

  currentPolicy(): string {
    return this.router.policy.name;
  }

  /**
   * `proxy policy NAME` over the socket: a built-in policy only. Whoever can
   * reach the socket must not get code run as the agent's user; a module is
   * named in the config file, which only its owner can change.
   */
  async setPolicy(name: string): Promise<void> {
    if (isModulePath(name)) {
      throw new ProxyctlError('PXC_ERR_BAD_POLICY', `proxy policy "${name}" refused: the control socket sets only the built-in policies (${BUILTIN_POLICIES.join(', ')}); name a policy module in the config file (proxy.policy) and reload`);
    }
    const policy: SelectionPolicy = await loadPolicy(name, process.cwd());
    this.router.policy = policy;
    this.#runtime.policy = name;
    this.#persist();
    // New orders for every job under the new policy.
    this.list.replan();
  }
}
