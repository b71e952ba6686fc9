import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter as PromCounter, Gauge as PromGauge, Registry } from 'prom-client';
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
 * Text stats are JSON-only. The registry is rebuilt on each scrape from the
 * live stats, so apps added or removed by a reload appear and vanish.
 */

interface Family {
  kind: 'counter' | 'gauge';
  help: string;
  labelNames: Set<string>;
  samples: { labels: Record<string, string>; value: number }[];
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

/** The stats as one prom-client Registry (built fresh: call per scrape). */
export function toPromRegistry(stats: StatsRegistry): Registry {
  const families = new Map<string, Family>();
  const add = (name: string, kind: Family['kind'], help: string, labels: Record<string, string>, value: number) => {
    if (!Number.isFinite(value)) return;
    let f = families.get(name);
    if (!f) families.set(name, (f = { kind, help: help || name, labelNames: new Set(), samples: [] }));
    else if (f.kind !== kind) return; // a clash of names across kinds: first one wins
    for (const k of Object.keys(labels)) f.labelNames.add(k);
    f.samples.push({ labels, value });
  };
  for (const m of stats.metrics()) {
    if (m.kind === 'text') continue;
    const labels: Record<string, string> = {};
    for (const seg of m.scope) for (const [k, v] of Object.entries(seg.labels)) labels[labelName(k)] = v;
    const base = [...m.scope.map((s) => s.name), m.name];
    try {
      if (m.kind === 'counter') add(metricName(base), 'counter', m.help, labels, m.read());
      else if (m.kind === 'gauge') add(metricName(base), 'gauge', m.help, labels, m.read());
      else {
        const prefix = base.slice(0, -1);
        add(metricName([...prefix, `${m.name}_1s`]), 'gauge', `${m.help} (1 s moving window)`, labels, m.rate1s());
        add(metricName([...prefix, `${m.name}_10s`]), 'gauge', `${m.help} (10 s moving window)`, labels, m.rate10s());
      }
    } catch {
      // A gauge whose collector throws is left out of this scrape, never the whole scrape.
    }
  }
  const registry = new Registry();
  for (const [name, f] of families) {
    const labelNames = [...f.labelNames];
    const fill = (labels: Record<string, string>) => Object.fromEntries(labelNames.map((l) => [l, labels[l] ?? '']));
    if (f.kind === 'counter') {
      const c = new PromCounter({ name, help: f.help, labelNames, registers: [registry] });
      for (const s of f.samples) c.inc(fill(s.labels), s.value);
    } else {
      const g = new PromGauge({ name, help: f.help, labelNames, registers: [registry] });
      for (const s of f.samples) g.set(fill(s.labels), s.value);
    }
  }
  return registry;
}

/**
 * The `metrics.listen` HTTP endpoint: GET /metrics (Prometheus text) and
 * GET /healthz (the agent answers: 200 and a small JSON). A listen failure is
 * logged and shown as the `metrics.listen_error` stat; the agent keeps running.
 */
export class MetricsServer implements Subsystem {
  readonly name = 'metrics';
  readonly #stats: StatsRegistry;
  readonly #logger: Logger;
  #listen: string | null;
  #server: Server | undefined;
  #error: string | null = null;
  readonly #startedAt = Date.now();

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
    const hp = parseHostPort(this.#listen)!;
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
        const registry = toPromRegistry(this.#stats);
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(body);
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

/** The Prometheus listener (metrics.listen); no control commands: `stats` is the agent's own. */
export function createMetrics(ctx: SubsystemContext) {
  return { subsystem: new MetricsServer(ctx), commands: [] as const, api: undefined } satisfies SubsystemParts;
}
