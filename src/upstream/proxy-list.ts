import type { Counter, StatsScope } from '../stats/registry.js';
import { DIRECT, type MemberAddress, type ParsedProxyList } from '../config/proxy-spec.js';

/**
 * The upstream proxy list after cvmfs's ProxyList / ProxyGroup / Proxy:
 * failover groups of load-balanced members, the active group, and a
 * `revision` that moves on every change a job's plan depends on (set, group
 * switch, group health change). Single-threaded JS needs no locks; a job's
 * plan just compares revisions.
 *
 * One Proxy object per distinct address: a proxy listed in two groups has one
 * health, and it keeps its health and counters across `proxy set` while it
 * stays in the list.
 */

export interface ProxyMetrics {
  readonly requests: Counter;
  readonly failuresProxy: Counter;
  readonly failuresHost: Counter;
  readonly slow: Counter;
  readonly transitions: Counter;
}

/** What is known of a member: `unknown` until a probe or a request says (it takes traffic meanwhile). */
export type ProxyState = 'unknown' | 'healthy' | 'unhealthy' | 'direct';

export class Proxy {
  readonly address: MemberAddress;
  healthy = true;
  /** A probe or a request has given a verdict since the proxy joined the list (or since rebalance cleared its mark). */
  checked = false;
  /** Epoch ms of the last health probe, null before the first. */
  lastCheck: number | null = null;
  latencyMs: number | null = null;
  lastError: string | null = null;
  readonly metrics: ProxyMetrics;
  readonly #scope: StatsScope | undefined;
  /** Counter values at the last `reset error counters`: the metrics stay monotonic (Prometheus), what operators read restarts from 0. */
  #errorBase = { proxy: 0, host: 0, slow: 0 };

  constructor(address: MemberAddress, scope?: StatsScope) {
    this.address = address;
    this.#scope = scope;
    const counter = (name: string, help: string): Counter => (scope ? scope.counter(name, help) : ({ value: 0, inc(n = 1) { this.value += n; } } as Counter));
    this.metrics = {
      requests: counter('requests', 'requests sent through this proxy'),
      failuresProxy: counter('failures_proxy', 'failures blamed on this proxy (connect, reset, timeout, 502/503/504, squid error)'),
      failuresHost: counter('failures_host', "origin errors seen through this proxy (not the proxy's fault)"),
      slow: counter('slow', 'transfers through this proxy that went under low_speed_limit'),
      transitions: counter('health_transitions', 'healthy ↔ unhealthy changes'),
    };
    scope?.text('last_error', 'last failure through this proxy', () => this.lastError);
    scope?.text('state', 'unknown (not checked yet), healthy or unhealthy', () => this.state);
  }

  /** Proxy errors counted against this member since it joined or since `reset error counters`. */
  get failures(): number {
    return this.metrics.failuresProxy.value - this.#errorBase.proxy;
  }
  get hostFailures(): number {
    return this.metrics.failuresHost.value - this.#errorBase.host;
  }
  get slowTransfers(): number {
    return this.metrics.slow.value - this.#errorBase.slow;
  }

  /** `reset error counters`: failures, host failures and slow transfers read 0 again, the last error is forgotten. */
  resetErrors(): void {
    this.#errorBase = { proxy: this.metrics.failuresProxy.value, host: this.metrics.failuresHost.value, slow: this.metrics.slow.value };
    this.lastError = null;
  }

  get state(): ProxyState {
    if (this.isDirect) return 'direct';
    if (!this.healthy) return 'unhealthy';
    return this.checked ? 'healthy' : 'unknown';
  }

  get isDirect(): boolean {
    return this.address === DIRECT;
  }

  /** URL handed to the downloader: null for DIRECT. */
  get url(): string | null {
    return this.isDirect ? null : this.address;
  }

  dispose(): void {
    this.#scope?.remove();
  }
}

export class ProxyGroup {
  readonly index: number;
  readonly proxies: readonly Proxy[];
  readonly fallback: boolean;
  /** Last computed health (healthy members ≥ min_healthy); a change moves the list's revision. */
  healthy = true;

  constructor(index: number, proxies: readonly Proxy[], fallback: boolean) {
    this.index = index;
    this.proxies = proxies;
    this.fallback = fallback;
  }

  healthyCount(): number {
    let n = 0;
    for (const p of this.proxies) if (p.healthy) n++;
    return n;
  }
}

export interface SwitchEvent {
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

export interface ProxyListOptions {
  minHealthy: number;
  /** Per-proxy metrics scope (labels {proxy: address}); omitted in unit tests. */
  stats?: StatsScope;
  onSwitch?: (e: SwitchEvent) => void;
  /** A proxy became healthy or unhealthy. */
  onHealth?: (proxy: Proxy) => void;
  /** The revision to continue from (the last one before a restart, from the state DB). */
  revision?: number;
  /** The revision moved (to persist it). */
  onRevision?: (revision: number) => void;
  now?: () => number;
}

export class ProxyList {
  #groups: ProxyGroup[] = [];
  #fallbackStart: number | null = null;
  #active = 0;
  #revision = 0;
  #activeSince: number;
  #minHealthy: number;
  /** The member the last request of the active group went through ("Active proxy"). */
  #lastUsed: Proxy | null = null;
  readonly #byAddress = new Map<MemberAddress, Proxy>();
  readonly #opts: ProxyListOptions;
  readonly #now: () => number;
  switches = 0;

  constructor(parsed: ParsedProxyList, opts: ProxyListOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#minHealthy = opts.minHealthy;
    this.#revision = opts.revision ?? 0;
    this.#activeSince = this.#now();
    this.set(parsed);
  }

  #bump(): void {
    this.#revision++;
    this.#opts.onRevision?.(this.#revision);
  }

  get groups(): readonly ProxyGroup[] {
    return this.#groups;
  }
  get fallbackStart(): number | null {
    return this.#fallbackStart;
  }
  get activeGroupIndex(): number {
    return this.#active;
  }
  get activeGroup(): ProxyGroup {
    return this.#groups[this.#active]!;
  }
  get revision(): number {
    return this.#revision;
  }
  /** Epoch ms since which the current group is active. */
  get activeSince(): number {
    return this.#activeSince;
  }
  get minHealthy(): number {
    return this.#minHealthy;
  }
  set minHealthy(n: number) {
    this.#minHealthy = n;
    this.#refreshGroupHealth();
  }

  /** Every distinct proxy (DIRECT included). */
  proxies(): IterableIterator<Proxy> {
    return this.#byAddress.values();
  }

  /** Replaces the groups (proxy set / fallback / reload): back to group 0, revision + 1. */
  set(parsed: ParsedProxyList): void {
    const keep = new Set(parsed.groups.flat());
    for (const [address, proxy] of this.#byAddress) {
      if (!keep.has(address)) {
        proxy.dispose();
        this.#byAddress.delete(address);
      }
    }
    this.#groups = parsed.groups.map(
      (members, gi) =>
        new ProxyGroup(
          gi,
          members.map((a) => this.#proxy(a)),
          parsed.fallbackStart !== null && gi >= parsed.fallbackStart,
        ),
    );
    this.#fallbackStart = parsed.fallbackStart;
    this.#active = 0;
    this.#activeSince = this.#now();
    this.#lastUsed = null;
    for (const g of this.#groups) g.healthy = g.healthyCount() >= Math.min(this.#minHealthy, g.proxies.length);
    this.#bump();
  }

  #proxy(address: MemberAddress): Proxy {
    let p = this.#byAddress.get(address);
    if (!p) {
      p = new Proxy(address, this.#opts.stats?.scope('proxies', { proxy: address }));
      this.#byAddress.set(address, p);
    }
    return p;
  }

  /** Marks a proxy up or down; returns true when its state changed. Group health changes move the revision. */
  setHealth(proxy: Proxy, healthy: boolean): boolean {
    proxy.checked = true;
    if (proxy.healthy === healthy) return false;
    proxy.healthy = healthy;
    proxy.metrics.transitions.inc();
    this.#refreshGroupHealth();
    this.#opts.onHealth?.(proxy);
    return true;
  }

  #refreshGroupHealth(): void {
    let changed = false;
    for (const g of this.#groups) {
      const healthy = g.healthyCount() >= Math.min(this.#minHealthy, g.proxies.length);
      if (healthy !== g.healthy) {
        g.healthy = healthy;
        changed = true;
      }
    }
    if (changed) this.#bump();
  }

  /** Makes `to` the active group (revision + 1) and reports the switch with its reason. */
  switchTo(to: number, reason: string): void {
    if (to === this.#active || to < 0 || to >= this.#groups.length) return;
    const from = this.#active;
    this.#active = to;
    this.#activeSince = this.#now();
    this.#lastUsed = null;
    this.#bump();
    this.switches++;
    this.#opts.onSwitch?.({ from, to, reason });
  }

  /**
   * The group to fail over to from the active one: the next (wrapping) with at
   * least min_healthy healthy members, else the next with any healthy member;
   * null when no other group has one.
   */
  nextGroup(): number | null {
    const n = this.#groups.length;
    let any: number | null = null;
    for (let step = 1; step < n; step++) {
      const gi = (this.#active + step) % n;
      const count = this.#groups[gi]!.healthyCount();
      if (count >= Math.min(this.#minHealthy, this.#groups[gi]!.proxies.length)) return gi;
      if (count > 0 && any === null) any = gi;
    }
    return any;
  }

  /** Fails over when the active group has fewer than min_healthy healthy members. Returns true on a switch. */
  failoverIfNeeded(reason: string): boolean {
    const g = this.activeGroup;
    if (g.healthyCount() >= Math.min(this.#minHealthy, g.proxies.length)) return false;
    const next = this.nextGroup();
    if (next === null) return false;
    this.switchTo(next, reason);
    return true;
  }

  /** Operator's `proxy group switch`: the next group in order, wrapping. */
  switchNext(reason: string): void {
    if (this.#groups.length > 1) this.switchTo((this.#active + 1) % this.#groups.length, reason);
  }

  /** `proxy rebalance`: every proxy healthy again, new random orders (through the revision). */
  rebalance(): void {
    for (const p of this.#byAddress.values()) {
      // A cleared failure mark is not a verdict: unknown until the next probe or request.
      if (!p.healthy) p.checked = false;
      p.healthy = true;
    }
    for (const g of this.#groups) g.healthy = true;
    this.#lastUsed = null;
    this.#bump();
  }

  /** Moves the revision so every job re-plans (a new policy). */
  replan(): void {
    this.#bump();
  }

  /** True when the list has been on a later group for at least `resetAfterMs`. */
  resetDue(resetAfterMs: number): boolean {
    return this.#active > 0 && this.#now() - this.#activeSince >= resetAfterMs;
  }

  /** Starts the reset_after clock again (group 0 was probed and is still down). */
  restartResetClock(): void {
    this.#activeSince = this.#now();
  }

  noteUsed(proxy: Proxy): void {
    this.#lastUsed = proxy;
  }

  /** The member in use: the last one a request of the active group went through, else the first healthy. */
  activeProxy(): Proxy {
    const g = this.activeGroup;
    if (this.#lastUsed && g.proxies.includes(this.#lastUsed) && this.#lastUsed.healthy) return this.#lastUsed;
    return g.proxies.find((p) => p.healthy) ?? g.proxies[0]!;
  }

  dispose(): void {
    for (const p of this.#byAddress.values()) p.dispose();
    this.#byAddress.clear();
  }
}
