import type { Dispatcher } from 'undici';
import { undici } from '../net/undici.js';
import { probeTcp } from '../net/tcp-probe.js';
import { classifyFailure, describeError } from './classify.js';
import type { DispatcherPool } from './dispatchers.js';
import type { Proxy, ProxyList } from './proxy-list.js';

/**
 * The proxy health checker (cvmfs's HealthChecker thread, here a timer loop): probes
 * the members of the active group — healthy ones every `healthyIntervalMs`,
 * unhealthy ones every `unhealthyIntervalMs` — and switches to the next group
 * with a healthy member when every member of the active group is down. After
 * `resetAfterMs` on a later group it probes group 0 and returns to it when one
 * of its members answers.
 *
 * A probe fetches `url` through the proxy (2xx, 3xx, the origin's 404, or an
 * error the proxy reports about the origin = the proxy works), over the member's
 * pool the downloads use too, or, without a URL, opens a TCP connection to it. Probes of one
 * proxy never overlap; DIRECT is never probed (there is nothing to probe).
 */

export interface ProxyHealthCheckerOptions {
  healthyIntervalMs: number;
  unhealthyIntervalMs: number;
  timeoutMs: number;
  url: string | null;
  resetAfterMs: number;
}

export interface HealthLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  error: string | null;
}

/** One probe of a member (by its address); settles at once, without a verdict, when `signal` aborts. */
export type ProxyProbe = (address: string, signal: AbortSignal) => Promise<ProbeResult>;

export interface ProxyHealthCheckerDeps {
  /** The clock the proxy list keeps (default Date.now): when members were last checked. */
  now?: () => number;
  /** Replaces the probe the options name (a URL through the proxy, or a TCP connect): tests drive health with it. */
  probe?: ProxyProbe;
}

/** Longest sleep between scheduling passes, so list changes are noticed promptly. */
const MAX_SLEEP_MS = 1000;

export class ProxyHealthChecker {
  readonly #list: ProxyList;
  #opts: ProxyHealthCheckerOptions;
  readonly #log: HealthLogger;
  readonly #pool: DispatcherPool;
  readonly #now: () => number;
  readonly #probeWith: ProxyProbe | undefined;
  readonly #inFlight = new Map<Proxy, Promise<ProbeResult>>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #resetting = false;
  #abort = new AbortController();
  probes = 0;

  constructor(list: ProxyList, pool: DispatcherPool, opts: ProxyHealthCheckerOptions, log: HealthLogger, deps: ProxyHealthCheckerDeps = {}) {
    this.#list = list;
    this.#pool = pool;
    this.#opts = opts;
    this.#log = log;
    this.#now = deps.now ?? Date.now;
    this.#probeWith = deps.probe;
  }

  set options(opts: ProxyHealthCheckerOptions) {
    this.#opts = opts;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    this.#schedule(0);
  }

  /** Stops the loop and aborts the probes in flight (they settle at once, without a verdict). */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, ms));
    this.#timer.unref();
  }

  #intervalOf(p: Proxy): number {
    return p.healthy ? this.#opts.healthyIntervalMs : this.#opts.unhealthyIntervalMs;
  }

  #tick(): void {
    if (!this.#running) return;
    const now = this.#now();
    let sleep = MAX_SLEEP_MS;
    for (const p of this.#list.activeGroup.proxies) {
      if (p.isDirect || this.#inFlight.has(p)) continue;
      const due = (p.lastCheck ?? 0) + this.#intervalOf(p);
      if (due > now) sleep = Math.min(sleep, due - now);
      else {
        void this.check(p);
        // its next check is an interval after this one ends: look again then, not a whole MAX_SLEEP_MS later (rates under 1 s)
        sleep = Math.min(sleep, this.#intervalOf(p));
      }
    }
    if (!this.#resetting && this.#list.resetDue(this.#opts.resetAfterMs)) void this.#tryReset();
    this.#schedule(sleep);
  }

  /** Probes one proxy (joining a probe in flight), records the result and applies failover. */
  check(p: Proxy): Promise<ProbeResult> {
    const running = this.#inFlight.get(p);
    if (running) return running;
    const signal = this.#abort.signal;
    const done = this.#probe(p, signal).then((r) => {
      this.#inFlight.delete(p);
      // An aborted probe says nothing about the proxy.
      if (!signal.aborted) this.#record(p, r);
      return r;
    });
    this.#inFlight.set(p, done);
    return done;
  }

  #record(p: Proxy, r: ProbeResult): void {
    this.probes++;
    p.lastCheck = this.#now();
    p.latencyMs = r.ok ? r.latencyMs : null;
    if (!r.ok) p.lastError = `probe: ${r.error}`;
    if (this.#list.setHealth(p, r.ok)) {
      this.#log.info(`proxy ${p.address} ${r.ok ? `healthy again (probe ${r.latencyMs} ms)` : `unhealthy (probe: ${r.error})`}`);
    }
    if (!this.#running) return;
    const g = this.#list.activeGroup;
    if (g.proxies.includes(p) && g.healthyCount() === 0) {
      const next = this.#list.nextGroup();
      if (next !== null) this.#list.switchTo(next, `every member of group ${g.index} unhealthy (${p.address}: probe ${r.error ?? 'failed'})`);
    }
  }

  async #tryReset(): Promise<void> {
    this.#resetting = true;
    try {
      const from = this.#list.activeGroupIndex;
      const first = this.#list.groups[0]!;
      const results = await Promise.all(first.proxies.filter((p) => !p.isDirect).map((p) => this.check(p)));
      if (!this.#running || this.#list.activeGroupIndex !== from || from === 0) return;
      if (first.healthyCount() > 0) {
        const seconds = this.#opts.resetAfterMs / 1000;
        this.#list.switchTo(0, `reset_after ${seconds} s elapsed on group ${from}; group 0 answers again`);
      } else {
        this.#list.restartResetClock();
        this.#log.info(`reset_after elapsed on group ${from} but group 0 is still down (${results.map((r) => r.error).join(', ')}); staying`);
      }
    } finally {
      this.#resetting = false;
    }
  }

  #probe(p: Proxy, signal: AbortSignal): Promise<ProbeResult> {
    if (this.#probeWith) return this.#probeWith(p.address, signal);
    return this.#opts.url ? probeUrl(this.#pool.probe(p.address), this.#opts.url, this.#opts.timeoutMs, signal) : probeProxyTcp(p.address, this.#opts.timeoutMs, signal);
  }
}

function hostPort(address: string): { host: string; port: number } {
  const u = new URL(address);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80) };
}

/** A TCP connection to the proxy: accepted within the timeout = healthy. */
export async function probeProxyTcp(address: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const { host, port } = hostPort(address);
  const r = await probeTcp(host, port, timeoutMs, signal);
  return { ok: r.ok, latencyMs: r.durationMs, error: r.ok ? null : r.aborted ? 'aborted' : r.timedOut ? 'ETIMEDOUT' : describeError(r.error) };
}

/**
 * A request for `url` through a proxy's pool: 2xx, 3xx, the origin's 404, or an error
 * the proxy reports about the origin (squid's ERR_CONNECT_FAIL …) = the proxy works.
 */
export async function probeUrl(dispatcher: Dispatcher, url: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await undici().request(url, { dispatcher, signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, headers: { 'cache-control': 'no-cache' } });
    await res.body.dump();
    const latencyMs = Math.round(performance.now() - started);
    if (res.statusCode < 400) return { ok: true, latencyMs, error: null };
    const c = classifyFailure({ status: res.statusCode, headers: res.headers, bytes: 0 }, true);
    return c.blame === 'host' ? { ok: true, latencyMs, error: null } : { ok: false, latencyMs, error: c.what };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: describeError(err) };
  }
}
