import type { IKeyValue, IWatchResponse, Namespace, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { DeployStatus } from './deploy-requests.js';
import type { FleetMeta } from './documents.js';
import { EventLog, type FleetEvent } from './event-log.js';
import { CONFIG_PREFIX, META_KEY, NODES_PREFIX, ROLLOUTS_PREFIX } from './keys.js';
import type { NodeRecord } from './node-record.js';
import type { RolloutRecord } from './rollout.js';
import { cancelWatch } from './watch.js';

/** The feed stops watching when nobody asked for events this long. */
export const FEED_IDLE_MS = 5 * 60_000;

/**
 * `fleet events`: the fleet's changes as this agent sees them. Watching the
 * whole prefix means receiving every node's record refresh, so the watch runs
 * only while someone follows the events (started by the first `fleet events`,
 * stopped FEED_IDLE_MS after the last); a fleet at rest costs its agents no
 * watch traffic. The agent's own connection changes are always recorded.
 */
export class EventFeed {
  readonly log = new EventLog();
  readonly #ns: Namespace;
  readonly #logger: Logger;
  #watcher: Watcher | null = null;
  #idle: NodeJS.Timeout | undefined;

  constructor(ns: Namespace, logger: Logger) {
    this.#ns = ns;
    this.#logger = logger;
  }

  push(e: Omit<FleetEvent, 'seq' | 'at'>): void {
    this.log.push(e);
  }

  /** Events after `after`, waiting up to `waitMs` for the first; starts the watch if it is not running. */
  async poll(after: number, waitMs: number): Promise<{ events: FleetEvent[]; last: number; started: boolean }> {
    const fresh = this.#watcher === null;
    if (fresh) this.#start();
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => void this.#stop(), FEED_IDLE_MS);
    this.#idle.unref();
    const events = await this.log.wait(after, waitMs);
    return { events, last: this.log.last, started: fresh };
  }

  #start(): void {
    const w = this.#ns.watch().prefix('').withPreviousKV().watcher();
    this.#watcher = w;
    w.on('data', (res) => this.#translate(res));
    w.on('error', (err) => {
      this.#logger.warn({ err: err.message }, 'fleet: events watch cancelled by etcd');
      if (this.#watcher === w) this.#watcher = null;
    });
  }

  async #stop(): Promise<void> {
    const w = this.#watcher;
    this.#watcher = null;
    if (w) await cancelWatch(w);
  }

  #translate(res: IWatchResponse): void {
    const revision = Number(res.header.revision);
    const sections = new Set<string>();
    let meta: FleetMeta | null = null;
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      if (key === META_KEY) meta = parse<FleetMeta>(ev.kv);
      else if (key.startsWith(CONFIG_PREFIX)) sections.add(key.slice(CONFIG_PREFIX.length));
      else if (key.startsWith(NODES_PREFIX)) this.#node(key.slice(NODES_PREFIX.length), ev.type === 'Delete' ? null : parse<NodeRecord>(ev.kv), ev.prev_kv ? parse<NodeRecord>(ev.prev_kv) : null, revision);
      else if (key.startsWith('deploy-status/') && ev.type === 'Put') this.#status(parse<DeployStatus>(ev.kv), revision);
      else if (key.startsWith(ROLLOUTS_PREFIX) && ev.type === 'Put') this.#rollout(parse<RolloutRecord>(ev.kv), ev.prev_kv ? parse<RolloutRecord>(ev.prev_kv) : null, revision);
    }
    if (sections.size > 0 || meta) {
      const by = meta ? ` by ${meta.by} (${meta.what})` : '';
      this.push({ kind: 'config', node: meta?.by ?? null, revision, message: `config revision ${revision}${by}: ${sections.size ? [...sections].sort().join(', ') : 'no section'} changed` });
    }
  }

  #node(name: string, rec: NodeRecord | null, prev: NodeRecord | null, revision: number): void {
    if (rec === null) {
      this.push({ kind: 'node', node: name, revision, message: `node ${name} left the fleet (stopped, or its lease expired)` });
      return;
    }
    if (prev === null) {
      this.push({ kind: 'node', node: name, revision, message: `node ${name} joined (pid ${rec.pid}, proxyctl ${rec.version}, config revision ${rec.config_revision})` });
      return;
    }
    if (rec.config_revision !== prev.config_revision) this.push({ kind: 'node', node: name, revision, message: `node ${name} applied config revision ${rec.config_revision}` });
    if (rec.error !== prev.error && rec.error !== null) this.push({ kind: 'node', node: name, revision, message: `node ${name} refused a config: ${rec.error}` });
  }

  #status(s: DeployStatus | null, revision: number): void {
    if (!s) return;
    const what = s.state === 'deploying' ? `deploying v${s.from_version ?? '-'} -> v${s.version}` : s.state === 'succeeded' ? `v${s.version} is current` : `failed: ${s.error}`;
    this.push({ kind: 'deploy', node: s.node, revision, message: `deploy ${s.service} on ${s.node}: ${what} (rollout ${s.rollout})` });
  }

  #rollout(r: RolloutRecord | null, prev: RolloutRecord | null, revision: number): void {
    if (!r) return;
    if (prev?.id === r.id && prev.state === r.state) return;
    const done = r.nodes.filter((n) => n.state === 'succeeded').length;
    const text = r.state === 'running' ? `started by ${r.coordinator} on ${r.nodes.map((n) => n.node).join(', ')}` : r.state === 'succeeded' ? `succeeded on ${done}/${r.nodes.length} node(s)` : `failed: ${r.error}`;
    this.push({ kind: 'deploy', node: r.coordinator, revision, message: `fleet deploy ${r.service} (${r.id}) ${text}` });
  }

  async close(): Promise<void> {
    clearTimeout(this.#idle);
    this.log.close();
    await this.#stop();
  }
}

function parse<T>(kv: IKeyValue): T | null {
  try {
    return JSON.parse(kv.value.toString()) as T;
  } catch {
    return null;
  }
}
