import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type * as PromClient from 'prom-client';
import { lazyRequire } from '../lazy-require.js';
import type { Subsystem, SubsystemContext, SubsystemParts } from '../agent/subsystem.js';
import { parseHostPort } from '../config/schema.js';
import type { StatsRegistry } from './registry.js';

/**
 * Prometheus exposition of the stats registry with prom-client: every counter
 * and gauge, every rate as two gauges `<name>_1s` and `<name>_10s`. The metric
 * name is `proxyctl_` + the scope names + the metric name; scope labels become
 * Prometheus labels:
 *
 *   stats.scope('apps', { app: 'echo' }).counter('msg_req')  →  proxyctl_apps_msg_req{app="echo"}
 *
 * Text stats are JSON-only. One prom-client Registry for the agent's life: a
 * family is registered the first time a scrape meets its name, and is a
 * collector (prom-client's `get()`) that reports the values read from the live
 * stats at that scrape, counters as they are (never re-incremented from 0).
 * Apps added by a reload bring their series; a family left with no series (its
 * app removed) is unregistered.
 *
 * A family has one set of label names: a sample of the same name with other
 * labels would be another meaning under one name (and `sum()` would count it
 * twice), so it is left out, never padded with empty labels. Stats are named so
 * that this does not happen (test/integration/forward/prometheus.test.ts).
 */

type Labels = Record<string, string>;

/** One metric family over the stats: prom-client's collector interface, its values set by each scrape. */
class StatsFamily {
  readonly aggregator = 'sum' as const;
  readonly labelKey: string;
  values: { labels: Labels; value: number }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    labels: Labels,
  ) {
    this.labelKey = keyOf(labels);
  }

  get(): { name: string; help: string; type: 'counter' | 'gauge'; aggregator: 'sum'; values: { labels: Labels; value: number }[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }
}

function keyOf(labels: Labels): string {
  return Object.keys(labels).sort().join(',');
}

const NAME_BAD = /[^a-zA-Z0-9_:]/g;
const LABEL_BAD = /[^a-zA-Z0-9_]/g;

function metricName(parts: readonly string[]): string {
  const name = ['proxyctl', ...parts].join('_').replace(NAME_BAD, '_');
  return /^[a-zA-Z_:]/.test(name) ? name : `_${name}`;
}

function labelName(name: string): string {
  const l = name.replace(LABEL_BAD, '_');
  return /^[a-zA-Z_]/.test(l) ? l : `_${l}`;
}

// prom-client (~80 modules with its OpenTelemetry dependency, ~50 ms) is loaded by the first scrape, not by every agent start.
const loadPromClient = lazyRequire<typeof PromClient>('prom-client');

/** The stats as Prometheus text, over one Registry whose families are registered once. */
export class StatsExporter {
  readonly registry: PromClient.Registry = new (loadPromClient().Registry)();
  readonly #stats: StatsRegistry;
  readonly #families = new Map<string, StatsFamily>();

  constructor(stats: StatsRegistry) {
    this.#stats = stats;
  }

  /** One scrape: reads every stat once, then prom-client writes the text. */
  async metrics(): Promise<string> {
    this.#collect();
    return await this.registry.metrics();
  }

  #collect(): void {
    for (const f of this.#families.values()) f.values = [];
    for (const m of this.#stats.metrics()) {
      if (m.kind === 'text') continue;
      const labels: Labels = {};
      for (const seg of m.scope) for (const [k, v] of Object.entries(seg.labels)) labels[labelName(k)] = v;
      const base = [...m.scope.map((s) => s.name), m.name];
      try {
        if (m.kind === 'counter') this.#add(metricName(base), 'counter', m.help, labels, m.read());
        else if (m.kind === 'gauge') this.#add(metricName(base), 'gauge', m.help, labels, m.read());
        else {
          const prefix = base.slice(0, -1);
          this.#add(metricName([...prefix, `${m.name}_1s`]), 'gauge', `${m.help} (1 s moving window)`, labels, m.rate1s());
          this.#add(metricName([...prefix, `${m.name}_10s`]), 'gauge', `${m.help} (10 s moving window)`, labels, m.rate10s());
        }
      } catch {
        // A gauge whose collector throws is left out of this scrape, never the whole scrape.
      }
    }
    for (const [name, f] of this.#families) {
      if (f.values.length > 0) continue;
      this.registry.removeSingleMetric(name);
      this.#families.delete(name);
    }
  }

  #add(name: string, type: 'counter' | 'gauge', help: string, labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    let f = this.#families.get(name);
    if (!f) {
      f = new StatsFamily(name, help || name, type, labels);
      this.#families.set(name, f);
      // prom-client's Registry takes any object with name, help, type, aggregator and get().
      this.registry.registerMetric(f as unknown as PromClient.Metric);
    } else if (f.type !== type || f.labelKey !== keyOf(labels)) return; // another meaning under this name: see above
    f.values.push({ labels, value });
  }
}

/**
 * The `metrics.listen` HTTP endpoint: GET /metrics (Prometheus text) and
 * GET /healthz (the agent answers: 200 and a small JSON). A listen failure is
 * logged and shown as the `metrics.listen_error` stat; the agent keeps running.
 */
export class MetricsServer implements Subsystem {
  readonly name = 'metrics';
  readonly #logger: Logger;
  #listen: string | null;
  #server: Server | undefined;
  #error: string | null = null;
  readonly #startedAt = Date.now();
  #exporter: StatsExporter | null = null;
  readonly #stats: SubsystemContext['stats'];

  constructor(ctx: SubsystemContext) {
    this.#stats = ctx.stats;
    this.#logger = ctx.logger.child({ sub: 'metrics' });
    this.#listen = ctx.config.metrics.listen;
    ctx.stats.scope('metrics').text('listen_error', 'why metrics.listen could not be served', () => this.#error);
  }

  /** The bound address (port 0 resolved), or null when off or failed. */
  get address(): { host: string; port: number } | null {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : null;
  }

  get url(): string | null {
    const a = this.address;
    return a && `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/metrics`;
  }

  async start(): Promise<void> {
    await this.#open();
  }

  async reload(config: SubsystemContext['config']): Promise<void> {
    if (config.metrics.listen === this.#listen && this.#error === null) return;
    await this.close();
    this.#listen = config.metrics.listen;
    await this.#open();
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  async #open(): Promise<void> {
    this.#error = null;
    if (this.#listen === null) return;
    const hp = parseHostPort(this.#listen, 0)!;
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        this.#error = `cannot listen on ${this.#listen}: ${err.code ?? err.message}`;
        this.#logger.error({ err: err.message }, this.#error);
        resolve();
      });
      server.listen({ host: hp.host, port: hp.port }, () => {
        this.#server = server;
        this.#logger.info({ listen: this.#listen }, 'serving Prometheus metrics');
        resolve();
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      try {
        this.#exporter ??= new StatsExporter(this.#stats);
        const body = await this.#exporter.metrics();
        res.writeHead(200, { 'content-type': this.#exporter.registry.contentType }).end(body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
      }
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', pid: process.pid, uptime_s: Math.floor((Date.now() - this.#startedAt) / 1000) }) + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  }
}

/** What the agent reports of the metrics listener (agent status). */
export interface MetricsListener {
  /** `http://HOST:PORT/metrics` as bound (metrics.listen port 0 resolved); null when off or failed. */
  readonly url: string | null;
}

/** The Prometheus listener (metrics.listen); no control commands: `stats` is the agent's own. */
export function createMetrics(ctx: SubsystemContext) {
  const server = new MetricsServer(ctx);
  return { subsystem: server, commands: [] as const, api: server as MetricsListener } satisfies SubsystemParts<MetricsServer, readonly [], MetricsListener>;
}
