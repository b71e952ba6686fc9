import type { Config, ProxyConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { Subsystem, SubsystemContext, SubsystemParts } from '../agent/subsystem.js';
import type { AnyCommand } from '../control/registry.js';
import type { Counter } from '../stats/registry.js';
import type { ProxyRouter } from './api.js';
import { AddressCache, type Lookup } from './addresses.js';
import { upstreamCommands, type HealthRow, type ProxyInfo, type ProxyInfoPac, type ResetErrorsResult, type TimeoutInfo } from './commands.js';
import { DispatcherPool, type DispatcherTimeouts } from './dispatchers.js';
import { ProxyHealthChecker, type ProxyHealthCheckerOptions, type ProxyProbe } from './health-checker.js';
import { BUILTIN_POLICIES, defaultPolicy, isModulePath, loadPolicy, shardingPolicy, type SelectionPolicy } from './policies.js';
import type { PacFetch, PacResolution } from './pac.js';
import { ProxyList } from './proxy-list.js';
import { AUTO, buildProxyList, formatProxySpec, parseProxySpec, type ParsedProxyList } from '../config/proxy-spec.js';
import { UpstreamRouter, type RouterSettings } from './router.js';

/**
 * The upstream subsystem: the proxy list, its router (handed to the download
 * manager), the health checker, the `proxy *` and `timeout *` control
 * commands, and the run-time overrides (`proxy set`, `proxy fallback`, `proxy
 * policy`, `timeout set`) kept in the state DB until `proxy reset`. Beside them
 * the state DB keeps the list's revision (a restart continues it: a client
 * comparing revisions never sees one twice) and the last PAC resolution (an
 * `auto` list restarts with the proxies it last had while the PAC is away).
 */

/** Run-time overrides of the config, persisted under STATE_KEY. */
export interface RuntimeOverrides {
  http_proxy?: string;
  fallback_proxy?: string;
  policy?: string;
  /** `timeout set`: seconds through a proxy and without one (proxy.timeout, proxy.timeout_direct). */
  timeout?: number;
  timeout_direct?: number;
}

export const STATE_KEY = 'upstream.runtime';
export const REVISION_KEY = 'upstream.revision';
export const PAC_KEY = 'upstream.pac';

/** The last successful PAC resolution, as kept in the state DB. */
interface SavedPac extends PacResolution {
  at: number;
}

/** Seams for tests: a DNS stub, a PAC fetcher, a clock. */
export interface UpstreamDeps {
  lookup?: Lookup;
  pacFetch?: PacFetch;
  now?: () => number;
  /** The health checker's probe (default: per proxy.health_check_url); tests drive member health with it. */
  probe?: ProxyProbe;
}

/** Asked of a PAC file when neither proxy.pac_query_url nor proxy.health_check_url names a URL. */
const PAC_QUERY_DEFAULT = 'http://example.org/';

/** The upstream proxy list; its API is the router the downloads go through. */
export function createUpstream(ctx: SubsystemContext, deps: UpstreamDeps = {}) {
  const s = new UpstreamSubsystem(ctx, deps);
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
  readonly addresses: AddressCache;
  readonly #ctx: SubsystemContext;
  readonly #deps: UpstreamDeps;
  readonly #now: () => number;
  /** The config file's proxy section; `#effective()` lays the run-time timeouts over it. */
  #config: ProxyConfig;
  #runtime: RuntimeOverrides;
  #parsed: ParsedProxyList;
  /** The last PAC resolution that worked (what `auto` stands for), and the last attempt's error. */
  #pac: SavedPac | null;
  #pacError: string | null = null;
  #pacTimer: NodeJS.Timeout | undefined;
  #pacRunning: Promise<PacResolution> | undefined;
  readonly #switches: Counter;

  constructor(ctx: SubsystemContext, deps: UpstreamDeps = {}) {
    this.#ctx = ctx;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#config = ctx.config.proxy;
    this.#runtime = this.#restoreOverrides();
    this.#pac = ctx.state.get<SavedPac>(PAC_KEY) ?? null;
    this.#parsed = this.#effectiveList();
    const scope = ctx.stats.scope('upstream');
    this.#switches = scope.counter('group_switches', 'active group changes (failover, reset_after, proxy group switch)');
    const log = ctx.logger.child({ sub: 'upstream' });
    const savedRevision = ctx.state.get<number>(REVISION_KEY);
    this.list = new ProxyList(this.#parsed, {
      minHealthy: this.#config.min_healthy,
      stats: scope,
      now: this.#now,
      revision: typeof savedRevision === 'number' && Number.isSafeInteger(savedRevision) && savedRevision > 0 ? savedRevision : 0,
      // Moves on set, switch and group health changes: rare, and one small row.
      onRevision: (revision) => ctx.state.set(REVISION_KEY, revision),
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
    const effective = this.#effective();
    this.pool = new DispatcherPool(poolTimeouts(effective));
    this.router = new UpstreamRouter(this.list, this.pool, routerSettings(effective), initial, { warn: (m) => log.warn(m), info: (m) => log.info(m) });
    this.checker = new ProxyHealthChecker(this.list, this.pool, checkerOptions(effective), { info: (m) => log.info(m), warn: (m) => log.warn(m) }, { now: this.#now, probe: deps.probe });
    this.addresses = new AddressCache({ lookup: deps.lookup, timeoutMs: effective.timeout * 1000 });
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
    return buildProxyList(this.#httpProxy(), this.#runtime.fallback_proxy ?? this.#config.fallback_proxy, this.#pac?.groups ?? null);
  }

  #httpProxy(): string {
    return this.#runtime.http_proxy ?? this.#config.http_proxy;
  }

  /** The config with the run-time timeouts laid over it. */
  #effective(): ProxyConfig {
    return { ...this.#config, ...(this.#runtime.timeout !== undefined ? { timeout: this.#runtime.timeout } : {}), ...(this.#runtime.timeout_direct !== undefined ? { timeout_direct: this.#runtime.timeout_direct } : {}) };
  }

  /** Pushes the effective timeouts and intervals to the router, the pools and the checker. */
  #applySettings(): void {
    const c = this.#effective();
    this.router.settings = routerSettings(c);
    this.pool.setTimeouts(poolTimeouts(c));
    this.checker.options = checkerOptions(c);
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
    await this.#refreshPacQuietly();
    this.#schedulePac();
  }

  async reload(config: Config): Promise<void> {
    const log = this.#ctx.logger;
    const pacChanged = JSON.stringify([config.proxy.pac_urls, config.proxy.pac_query_url, config.proxy.pac_refresh]) !== JSON.stringify([this.#config.pac_urls, this.#config.pac_query_url, this.#config.pac_refresh]);
    this.#config = config.proxy;
    this.#applySettings();
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
    if (pacChanged || (this.#usesAuto() && this.#pac === null)) await this.#refreshPacQuietly();
    this.#schedulePac();
  }

  // ---- auto: proxies from the PAC files ----

  #usesAuto(spec = this.#httpProxy()): boolean {
    return parseProxySpec(spec, 'http_proxy', true).some((g) => g[0] === AUTO);
  }

  #pacOptions() {
    const c = this.#effective();
    return { urls: c.pac_urls, queryUrl: c.pac_query_url ?? c.health_check_url ?? PAC_QUERY_DEFAULT, timeoutMs: c.timeout_direct * 1000 };
  }

  /**
   * Resolves the PAC files again. Success: `auto` stands for the new groups (a
   * changed answer is a new list: revision + 1, back to group 0) and is kept in
   * the state DB. Failure: PXC_ERR_PAC, and `auto` keeps the groups of the last
   * resolution that worked (none at all only if there never was one: then the
   * other groups, else DIRECT, as cvmfs).
   */
  refreshPac(): Promise<PacResolution> {
    this.#pacRunning ??= (async () => {
      try {
        // Loaded on first use: the PAC sandbox's modules (a JS parser, QuickJS) cost seconds of start-up on a loaded host, and most agents never use auto.
        const { resolvePac } = await import('./pac.js');
        const r = await resolvePac(this.#pacOptions(), this.#deps.pacFetch);
        this.#pacError = null;
        this.#pac = { ...r, at: this.#now() };
        this.#ctx.state.set(PAC_KEY, this.#pac);
        if (r.skipped.length > 0) this.#ctx.logger.warn(`upstream: PAC ${r.source}: skipped ${r.skipped.join('; ')}`);
        this.#applyList();
        return r;
      } catch (err) {
        this.#pacError = (err as Error).message;
        const kept = this.#pac ? `auto keeps the ${this.#pac.groups.length} group(s) from ${this.#pac.source}` : 'auto stands for no proxy until a PAC file answers';
        throw new ProxyctlError('PXC_ERR_PAC', `${(err as Error).message}; ${kept}`, { cause: err });
      } finally {
        this.#pacRunning = undefined;
      }
    })();
    return this.#pacRunning;
  }

  /** The timer's and start's refresh: a failure is logged, the list stays. */
  async #refreshPacQuietly(): Promise<void> {
    if (!this.#usesAuto()) return;
    try {
      await this.refreshPac();
    } catch (err) {
      this.#ctx.logger.error(`upstream: ${(err as Error).message}`);
    }
  }

  #schedulePac(): void {
    clearInterval(this.#pacTimer);
    this.#pacTimer = setInterval(() => void this.#refreshPacQuietly(), this.#config.pac_refresh * 1000);
    this.#pacTimer.unref();
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

  /** Closes the pools (and forgets the addresses) of members that left the list. */
  #retainPools(): void {
    const members = new Set([...this.list.proxies()].map((p) => p.address));
    this.pool.retain(members);
    this.addresses.retain(members);
  }

  async close(): Promise<void> {
    clearInterval(this.#pacTimer);
    await this.#pacRunning?.catch(() => undefined);
    await this.checker.stop();
    await this.pool.close();
    this.list.dispose();
  }

  // ---- control operations (the `proxy *` commands) ----

  async info(): Promise<ProxyInfo> {
    const list = this.list;
    const resolved = await this.addresses.resolve([...list.proxies()].filter((p) => !p.isDirect).map((p) => p.address));
    const active = list.activeProxy();
    const pacAt = this.#parsed.pac ?? null;
    const resetAfterMs = this.#effective().reset_after * 1000;
    return {
      revision: list.revision,
      policy: this.router.policy.name,
      active_group: list.activeGroupIndex,
      active_proxy: active.address,
      first_fallback_group: list.fallbackStart,
      reset_in_s: list.activeGroupIndex === 0 ? null : Math.max(0, Math.ceil((resetAfterMs - (this.#now() - list.activeSince)) / 1000)),
      spec: formatProxySpec(list.groups.filter((g) => !g.fallback).map((g) => g.proxies.map((p) => p.address))),
      fallback_spec: formatProxySpec(list.groups.filter((g) => g.fallback).map((g) => g.proxies.map((p) => p.address))),
      pac: this.#pacInfo(),
      groups: list.groups.map((g) => ({
        index: g.index,
        fallback: g.fallback,
        pac: pacAt !== null && g.index >= pacAt.start && g.index < pacAt.start + pacAt.count,
        healthy: g.healthy,
        proxies: g.proxies.map((p) => ({
          address: p.address,
          state: p.state,
          healthy: p.healthy,
          addresses: p.isDirect ? null : (resolved.get(p.address)?.addresses ?? null),
          address_error: p.isDirect ? null : (resolved.get(p.address)?.error ?? null),
          last_check: p.lastCheck === null ? null : new Date(p.lastCheck).toISOString(),
          latency_ms: p.latencyMs,
          failures: p.failures,
        })),
      })),
    };
  }

  #pacInfo(): ProxyInfoPac | null {
    if (!this.#usesAuto()) return null;
    const o = this.#pacOptions();
    const pac = this.#pac;
    return {
      urls: [...o.urls],
      query_url: o.queryUrl,
      source: pac?.source ?? null,
      result: pac?.result ?? null,
      resolved: pac ? formatProxySpec(pac.groups) : null,
      resolved_at: pac ? new Date(pac.at).toISOString() : null,
      skipped: pac?.skipped ?? [],
      error: this.#pacError,
      refresh_s: this.#config.pac_refresh,
    };
  }

  health(): HealthRow[] {
    return this.list.groups.flatMap((g) =>
      g.proxies.map((p) => ({
        proxy: p.address,
        group: g.index,
        active: g.index === this.list.activeGroupIndex,
        state: p.state,
        last_check: p.lastCheck === null ? null : new Date(p.lastCheck).toISOString(),
        latency_ms: p.latencyMs,
        failures: p.failures,
        slow: p.slowTransfers,
        last_error: p.lastError,
      })),
    );
  }

  /**
   * `proxy set SPEC`: validated against the current fallbacks, applied,
   * persisted. With `auto` the PAC files are resolved first: when none answers
   * the set is refused (PXC_ERR_PAC) and the running list stays.
   */
  async set(spec: string): Promise<void> {
    buildProxyList(spec, this.#runtime.fallback_proxy ?? this.#config.fallback_proxy);
    if (this.#usesAuto(spec)) {
      const previous = this.#runtime.http_proxy;
      // refreshPac applies the list as it stands; the new spec is applied (forced) below.
      this.#runtime.http_proxy = spec.trim();
      try {
        await this.refreshPac();
      } catch (err) {
        if (previous === undefined) delete this.#runtime.http_proxy;
        else this.#runtime.http_proxy = previous;
        this.#applyList();
        throw new ProxyctlError('PXC_ERR_PAC', `proxy set ${spec.trim()}: refused, the running list stays: ${(err as Error).message.replace(/; auto (keeps|stands) .*$/, '')}`, { cause: err });
      }
    }
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

  /**
   * `proxy rebalance`: failure marks cleared, new random orders, the members'
   * addresses looked up again and, with `auto`, the PAC files resolved again
   * (a PAC that fails is reported after the rest is done).
   */
  async rebalance(): Promise<{ revision: number }> {
    this.list.rebalance();
    await this.addresses.refresh([...this.list.proxies()].filter((p) => !p.isDirect).map((p) => p.address));
    if (this.#usesAuto()) {
      try {
        await this.refreshPac();
      } catch (err) {
        throw new ProxyctlError('PXC_ERR_PAC', `proxy rebalance: marks cleared, but ${(err as Error).message}`, { cause: err });
      }
    }
    return { revision: this.list.revision };
  }

  // ---- timeout info | set, reset error counters ----

  timeoutInfo(): TimeoutInfo {
    const c = this.#effective();
    return {
      proxy_s: c.timeout,
      direct_s: c.timeout_direct,
      source: { proxy: this.#runtime.timeout !== undefined ? 'run-time' : 'config', direct: this.#runtime.timeout_direct !== undefined ? 'run-time' : 'config' },
    };
  }

  /** `timeout set PROXY DIRECT`: new requests and probes use them at once; kept until `proxy reset`. */
  setTimeouts(proxyS: number, directS: number): TimeoutInfo {
    this.#runtime.timeout = proxyS;
    this.#runtime.timeout_direct = directS;
    this.#persist();
    this.#applySettings();
    this.#ctx.logger.info(`upstream: timeouts set to ${proxyS} s through a proxy, ${directS} s direct (proxy reset drops them)`);
    return this.timeoutInfo();
  }

  /** `reset error counters`: every member's failures, host failures and slow transfers read 0 again. */
  resetErrors(): ResetErrorsResult {
    let proxies = 0;
    for (const p of this.list.proxies()) {
      p.resetErrors();
      proxies++;
    }
    return { proxies };
  }

  /** The keys this subsystem overrides at run time, as config paths (for `parameters`). */
  runtimeParameters(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.#runtime)) out[`proxy.${k}`] = v;
    return out;
  }

  switchGroup(): void {
    this.list.switchNext('proxy group switch by the operator');
  }

  async reset(): Promise<void> {
    const policy = await loadPolicy(this.#config.policy, process.cwd());
    this.#runtime = {};
    this.#persist();
    this.router.policy = policy;
    this.#applySettings();
    this.#applyForced();
    await this.#refreshPacQuietly();
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
