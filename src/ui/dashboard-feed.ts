import { AgentError, ControlClient, type Notification } from '../control/client.js';
import type { Topic } from '../control/events.js';
import type { DashboardData, DownloadRow } from './dashboard.js';
import { shardRows } from './dashboard.js';
import { describeEvent, describeLost, type EventParams } from './render/events.js';

/** Events kept for the dashboard's events pane. */
const EVENT_LINES = 200;
/** Rates and counters (req/s, shards, app connections) have no events: read this often. */
const STATS_MS = 2000;
/** An agent without events is polled whole this often (as the dashboard did before events). */
const POLL_MS = 1000;
/** Events coalesce for this long before the panels they touch are read again. */
const SETTLE_MS = 100;

type Panel = 'services' | 'apps' | 'proxy' | 'downloads' | 'stats';

/** Which panels an event makes stale. */
function panelsOf(topic: string): Panel[] {
  if (topic.startsWith('deploy.') || topic.startsWith('service.')) return ['services'];
  if (topic.startsWith('proxy.')) return ['proxy'];
  if (topic.startsWith('target.')) return ['apps'];
  if (topic === 'download.state') return ['downloads'];
  if (topic === 'agent.reload') return ['services', 'apps', 'proxy'];
  return [];
}

const TOPICS: Topic[] = ['deploy.phase', 'service.exit', 'service.restart', 'service.scale', 'service.health', 'proxy.switch', 'proxy.health', 'target.health', 'download.state', 'download.progress', 'agent.reload'];

/**
 * The dashboard's view of the agent, kept current by events: a panel is read
 * again when an event says it changed (services on deploy and service
 * events, the proxy list on switches and health, apps on target health,
 * downloads on state changes; progress updates a row in place), and only the
 * rates, which no event carries, are read on a timer. An agent from before
 * events is polled whole every second. Reconnects after the agent comes back.
 */
export class DashboardFeed {
  readonly #socket: string;
  readonly #onChange: () => void;
  #client: ControlClient | null;
  #data: DashboardData = { services: [], shards: [], apps: [], proxy: null, downloads: [], events: [], at: new Date() };
  #error: string | null = null;
  #events = true;
  readonly #dirty = new Set<Panel>();
  #settle: NodeJS.Timeout | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(socket: string, client: ControlClient, onChange: () => void) {
    this.#socket = socket;
    this.#client = client;
    this.#onChange = onChange;
  }

  get data(): DashboardData {
    return this.#data;
  }

  get error(): string | null {
    return this.#error;
  }

  /** The connection, once the agent answers (null while it does not). */
  get client(): ControlClient | null {
    return this.#client;
  }

  async start(): Promise<void> {
    await this.#connect();
    this.#tick();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#settle);
    this.#client?.close();
  }

  /** Reads everything again now (after an action). */
  async refresh(): Promise<void> {
    await this.#read(['services', 'apps', 'proxy', 'downloads', 'stats']);
  }

  async #connect(): Promise<void> {
    try {
      const client = (this.#client ??= await ControlClient.connect(this.#socket, { timeoutMs: 5000 }));
      client.onNotification((n) => this.#onNotification(n));
      void client.closed.then(() => {
        if (this.#client === client) this.#client = null;
      });
      try {
        await client.call('events.subscribe', { topics: TOPICS });
        this.#events = true;
      } catch (err) {
        if (!(err instanceof AgentError) || err.code !== 'PXC_ERR_UNKNOWN_COMMAND') throw err;
        this.#events = false;
      }
      await this.refresh();
    } catch (err) {
      this.#fail(err);
    }
  }

  #tick(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(
      () => {
        void (async () => {
          if (!this.#client) await this.#connect();
          else await this.#read(this.#events ? ['stats'] : ['services', 'apps', 'proxy', 'downloads', 'stats']);
          this.#tick();
        })();
      },
      this.#events ? STATS_MS : POLL_MS,
    );
  }

  #onNotification(n: Notification): void {
    if (n.method === 'lost') {
      this.#push(describeLost(n.params as { dropped: number; time: string }));
      for (const p of ['services', 'apps', 'proxy', 'downloads'] as const) this.#dirty.add(p);
    } else if (n.method === 'event') {
      const e = n.params as EventParams;
      if (e.topic === 'download.progress') {
        const row = this.#data.downloads?.find((d) => d.id === e.id);
        if (row) Object.assign(row, { bytes: e.bytes, total: e.total, speed_bps: e.rate });
        this.#onChange();
        return;
      }
      this.#push(describeEvent(e));
      for (const p of panelsOf(e.topic)) this.#dirty.add(p);
    }
    this.#onChange();
    this.#settle ??= setTimeout(() => {
      this.#settle = undefined;
      const panels = [...this.#dirty];
      this.#dirty.clear();
      void this.#read(panels);
    }, SETTLE_MS);
  }

  #push(line: string): void {
    const events = (this.#data.events ??= []);
    events.push(line);
    if (events.length > EVENT_LINES) events.splice(0, events.length - EVENT_LINES);
  }

  async #read(panels: Panel[]): Promise<void> {
    const c = this.#client;
    if (!c || panels.length === 0) return;
    const want = new Set(panels);
    try {
      const [services, stats, apps, proxy, downloads] = await Promise.all([
        want.has('services') || want.has('stats') ? c.call('service.list', {}) : null,
        want.has('stats') ? c.call('agent.stats', {}) : null,
        want.has('apps') || want.has('stats') ? c.call('app.list', {}).catch(() => []) : null,
        want.has('proxy') ? c.call('proxy.info', {}).catch(() => null) : undefined,
        want.has('downloads') ? c.call('download.list', {}).catch(() => null) : undefined,
      ]);
      const d = this.#data;
      this.#data = {
        ...d,
        services: services ?? d.services,
        shards: stats ? shardRows(stats) : d.shards,
        apps: apps ?? d.apps,
        proxy: proxy === undefined ? d.proxy : proxy,
        downloads: downloads === undefined ? d.downloads : downloads === null ? [] : downloads.filter((j) => j.state !== 'done' && j.state !== 'cancelled').map((j): DownloadRow => ({ id: j.id, state: j.state, url: j.url, bytes: j.bytes, total: j.total, speed_bps: j.speed_bps })),
        at: new Date(),
      };
      this.#error = null;
    } catch (err) {
      this.#fail(err);
    }
    this.#onChange();
  }

  #fail(err: unknown): void {
    this.#error = (err as Error).message;
    this.#client?.close();
    this.#client = null;
    this.#onChange();
  }
}
