import { MovingRate } from './moving-rate.js';

/**
 * The stats registry every subsystem registers into. A metric lives at a path
 * of scopes; `snapshot()` nests by that path (the JSON of `proxyctl stats`),
 * and the Prometheus exposition turns scope labels into metric labels:
 *
 *   stats.scope('apps', { app: 'echo' }).counter('msg_req', 'REQ messages')
 *     JSON:        { apps: { echo: { msg_req: 12 } } }
 *     Prometheus:  proxyctl_apps_msg_req{app="echo"} 12
 *
 * Counters and gauges are plain objects whose `value` is bumped in place.
 */

export type Labels = Readonly<Record<string, string>>;

export interface ScopeSegment {
  readonly name: string;
  readonly labels: Labels;
}

export type MetricKind = 'counter' | 'gauge' | 'rate' | 'text';

interface MetricBase {
  readonly kind: MetricKind;
  readonly name: string;
  readonly help: string;
  readonly scope: readonly ScopeSegment[];
}

export class Counter implements MetricBase {
  readonly kind = 'counter';
  value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly scope: readonly ScopeSegment[],
    /** Reads the count where it lives (memory a native engine writes); `value` is unused then. */
    readonly collect?: () => number,
  ) {}
  inc(n = 1): void {
    this.value += n;
  }
  read(): number {
    return this.collect ? this.collect() : this.value;
  }
}

export class Gauge implements MetricBase {
  readonly kind = 'gauge';
  value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly scope: readonly ScopeSegment[],
    readonly collect?: () => number,
  ) {}
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
  read(): number {
    return this.collect ? this.collect() : this.value;
  }
}

/**
 * A moving-window rate; appears in JSON as `<name>_1s`, `<name>_10s`. With
 * `follow`, the rate is the per-second delta of that running total (a counter
 * kept elsewhere, e.g. by a native engine), taken at each tick: no mark() calls.
 */
export class Rate extends MovingRate implements MetricBase {
  readonly kind = 'rate';
  #last: number;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly scope: readonly ScopeSegment[],
    readonly follow?: () => number,
  ) {
    super();
    this.#last = follow ? follow() : 0;
  }
  override tick(): void {
    if (this.follow) {
      const now = this.follow();
      if (now > this.#last) this.mark(now - this.#last);
      this.#last = now;
    }
    super.tick();
  }
}

/** A string for humans (last error, state); JSON only, not exported to Prometheus. */
export class Text implements MetricBase {
  readonly kind = 'text';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly scope: readonly ScopeSegment[],
    readonly collect: () => string | null,
  ) {}
}

export type Metric = Counter | Gauge | Rate | Text;

export type StatsValue = number | string | null | StatsSnapshot;
export interface StatsSnapshot {
  [key: string]: StatsValue;
}

/** A place in the metric tree; create metrics and sub-scopes through it. */
export class StatsScope {
  readonly #registry: StatsRegistry;
  readonly #path: readonly ScopeSegment[];

  constructor(registry: StatsRegistry, path: readonly ScopeSegment[]) {
    this.#registry = registry;
    this.#path = path;
  }

  scope(name: string, labels: Labels = {}): StatsScope {
    return new StatsScope(this.#registry, [...this.#path, { name, labels }]);
  }

  counter(name: string, help: string, collect?: () => number): Counter {
    return this.#registry.add(new Counter(name, help, this.#path, collect));
  }

  gauge(name: string, help: string, collect?: () => number): Gauge {
    return this.#registry.add(new Gauge(name, help, this.#path, collect));
  }

  rate(name: string, help: string, follow?: () => number): Rate {
    return this.#registry.add(new Rate(name, help, this.#path, follow));
  }

  text(name: string, help: string, collect: () => string | null): Text {
    return this.#registry.add(new Text(name, help, this.#path, collect));
  }

  /** Drops every metric at or below this scope (an app removed on reload). */
  remove(): void {
    this.#registry.removeUnder(this.#path);
  }
}

function jsonPath(scope: readonly ScopeSegment[]): string[] {
  const out: string[] = [];
  for (const seg of scope) {
    out.push(seg.name);
    for (const v of Object.values(seg.labels)) out.push(v);
  }
  return out;
}

function keyOf(scope: readonly ScopeSegment[], name: string): string {
  return [...jsonPath(scope), name].join('\u0000');
}

export class StatsRegistry {
  readonly #metrics = new Map<string, Metric>();
  readonly #rates = new Set<Rate>();
  #ticker: NodeJS.Timeout | undefined;

  constructor() {
    this.#ticker = setInterval(() => {
      for (const r of this.#rates) r.tick();
    }, 1000);
    this.#ticker.unref();
  }

  scope(name: string, labels: Labels = {}): StatsScope {
    return new StatsScope(this, [{ name, labels }]);
  }

  /** Registers a metric; a metric already at that path is replaced (re-registration on reload). */
  add<M extends Metric>(metric: M): M {
    const key = keyOf(metric.scope, metric.name);
    const old = this.#metrics.get(key);
    if (old instanceof Rate) this.#rates.delete(old);
    this.#metrics.set(key, metric);
    if (metric instanceof Rate) this.#rates.add(metric);
    return metric;
  }

  removeUnder(scope: readonly ScopeSegment[]): void {
    const prefix = jsonPath(scope).join('\u0000') + '\u0000';
    for (const [key, metric] of this.#metrics) {
      if (key.startsWith(prefix)) {
        this.#metrics.delete(key);
        if (metric instanceof Rate) this.#rates.delete(metric);
      }
    }
  }

  metrics(): IterableIterator<Metric> {
    return this.#metrics.values();
  }

  /** The nested JSON object of `proxyctl stats --json`, SIGUSR1 and `stats` on the socket. */
  snapshot(): StatsSnapshot {
    const root: StatsSnapshot = {};
    for (const m of this.#metrics.values()) {
      let node = root;
      for (const part of jsonPath(m.scope)) {
        const next = node[part];
        if (next !== null && typeof next === 'object') node = next;
        else node = node[part] = {};
      }
      switch (m.kind) {
        case 'counter':
          node[m.name] = m.read();
          break;
        case 'gauge':
          node[m.name] = m.read();
          break;
        case 'rate':
          node[`${m.name}_1s`] = m.rate1s();
          node[`${m.name}_10s`] = round(m.rate10s());
          break;
        case 'text':
          node[m.name] = m.collect();
          break;
      }
    }
    return root;
  }

  close(): void {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
