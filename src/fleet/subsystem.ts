import { hostname } from 'node:os';
import { basename } from 'node:path';
import type { Etcd3, Namespace } from 'etcd3';
import type { Logger } from 'pino';
import type { ClusterConfig, Config } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { Counter } from '../stats/registry.js';
import { packageVersion } from '../version.js';
import type { FleetAgentInfo, FleetContext, FleetHost, FleetNode } from './api.js';
import type { FleetControl, FleetDiffResult, FleetEventsResult, FleetGetResult, FleetPushResult, FleetStatus } from './commands.js';
import { ConfigSync } from './config-sync.js';
import { EtcdConnection } from './connection.js';
import { DeployRequests } from './deploy-requests.js';
import { diffDocs, docsFromFile, docsToFile, validateDocs, type FleetProxyDoc, type FleetSnapshot } from './documents.js';
import { connectEtcd } from './etcd.js';
import { EventFeed } from './event-feed.js';
import { NODES_PREFIX, rolloutKey, ROLLOUTS_PREFIX } from './keys.js';
import { NodeRegistration, type NodeRecord } from './node-record.js';
import { RolloutCoordinator, unreachable, type RolloutRecord } from './rollout.js';
import { FleetStore, type FleetWrite } from './store.js';

/** Read-modify-write edits (`proxy set --fleet`) retry this often when another write lands in between. */
const EDIT_ATTEMPTS = 3;

/**
 * The fleet subsystem: this agent's etcd client and everything it does with
 * it — the node record, the config sync, answering and coordinating fleet
 * deploys, the event feed — and the `fleet *` commands. Built only when the
 * config has a `cluster` key (src/fleet/api.ts, startFleet).
 */
export class Fleet implements FleetNode, FleetControl {
  readonly name = 'fleet';
  readonly #cluster: ClusterConfig;
  readonly #node: string;
  readonly #host: FleetHost;
  readonly #log: Logger;
  readonly #client: Etcd3;
  readonly #ns: Namespace;
  readonly #conn: EtcdConnection;
  readonly #store: FleetStore;
  readonly #sync: ConfigSync;
  readonly #registration: NodeRegistration;
  readonly #requests: DeployRequests;
  readonly #rollouts: RolloutCoordinator;
  readonly #feed: EventFeed;
  readonly #startedAt = new Date().toISOString();
  readonly #version = packageVersion();
  readonly #recordWrites: Counter;
  /** Nodes and rollouts as last read, for `fleet status` while etcd is away. */
  #lastNodes: NodeRecord[] = [];
  #lastRollouts: RolloutRecord[] = [];

  constructor(ctx: FleetContext) {
    this.#cluster = ctx.cluster;
    this.#node = ctx.cluster.node!;
    this.#host = ctx.host;
    this.#log = ctx.logger.child({ sub: 'fleet', node: this.#node });
    this.#client = connectEtcd(ctx.cluster);
    this.#ns = this.#client.namespace(ctx.cluster.prefix);
    this.#feed = new EventFeed(this.#ns, this.#log);
    this.#conn = new EtcdConnection(this.#log, (up) => this.#onConnection(up));
    this.#store = new FleetStore(this.#ns, this.#node);
    this.#sync = new ConfigSync(this.#ns, {
      prefix: ctx.cluster.prefix,
      store: this.#store,
      state: ctx.state,
      conn: this.#conn,
      log: this.#log,
      apply: (snap) => this.#host.apply(snap),
      onStateChange: () => void this.#registration.touch(),
    });
    this.#registration = new NodeRegistration(this.#ns, {
      node: this.#node,
      ttl: ctx.cluster.lease_ttl,
      conn: this.#conn,
      log: this.#log,
      record: () => this.#record(),
      onWrite: () => this.#recordWrites.inc(),
    });
    this.#requests = new DeployRequests(this.#ns, {
      node: this.#node,
      conn: this.#conn,
      log: this.#log,
      deploy: (service) => this.#host.deploy(service),
      lease: () => this.#registration.lease,
      onChange: () => void this.#registration.touch(),
    });
    this.#rollouts = new RolloutCoordinator(this.#ns, { node: this.#node, ttl: ctx.cluster.lease_ttl, log: this.#log });
    const scope = ctx.stats.scope('fleet');
    scope.gauge('connected', '1 while etcd answers, 0 while the agent serves its last applied fleet config without it', () => (this.#conn.connected ? 1 : 0));
    scope.gauge('config_revision', 'fleet config revision this node runs', () => this.#sync.applied?.revision ?? 0);
    this.#recordWrites = scope.counter('record_writes', 'node record writes to etcd (every lease_ttl/2 s, and on changes)');
  }

  // ---- FleetNode (the agent's side) -------------------------------------------

  snapshot(): FleetSnapshot | null {
    return this.#sync.latest;
  }

  applied(snapshot: FleetSnapshot): void {
    this.#sync.markApplied(snapshot);
  }

  refused(snapshot: FleetSnapshot, message: string): void {
    this.#sync.refused(snapshot, message);
  }

  info(): FleetAgentInfo {
    const error = this.#sync.error;
    return {
      node: this.#node,
      prefix: this.#cluster.prefix,
      endpoints: this.#cluster.endpoints,
      connected: this.#conn.connected,
      since: new Date(this.#conn.since).toISOString(),
      applied_revision: this.#sync.applied?.revision ?? 0,
      latest_revision: this.#sync.latest?.revision ?? 0,
      error: error && `revision ${error.revision}: ${error.message}`,
    };
  }

  async start(): Promise<void> {
    this.#log.info({ endpoints: this.#cluster.endpoints, prefix: this.#cluster.prefix, lease_ttl: this.#cluster.lease_ttl }, `fleet: joining as node ${this.#node}`);
    // None of these waits for etcd: the agent serves on while it is away. The node record
    // first goes out after the first sync, so a node joins with the revision it runs.
    this.#sync.start();
    void this.#sync.sync().finally(() => this.#registration.start());
    this.#requests.start();
  }

  async reload(config: Config): Promise<void> {
    if (JSON.stringify(config.cluster) !== JSON.stringify(this.#cluster)) this.#log.warn('fleet: the cluster settings changed in the config; they apply at the next agent start');
  }

  async close(): Promise<void> {
    // A rollout this agent coordinates ends here (recorded as failed) and frees its lock.
    await Promise.race([this.#rollouts.close(), new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.#requests.close();
    await this.#sync.close();
    await this.#feed.close();
    await this.#registration.close();
    this.#client.close();
  }

  #onConnection(up: boolean): void {
    const applied = this.#sync.applied?.revision ?? 0;
    this.#feed.push({ kind: 'connection', node: this.#node, revision: null, message: up ? `${this.#node} connected to etcd` : `${this.#node} lost etcd (${this.#conn.lastError}); serving config revision ${applied}` });
    if (!up) return;
    // Back: resync by revision (changes made meanwhile), and say we are here.
    void this.#sync.sync();
    void this.#registration.touch();
  }

  #record(): NodeRecord {
    const local = this.#host.status();
    const error = this.#sync.error;
    return {
      node: this.#node,
      hostname: hostname(),
      version: this.#version,
      engine: local.engine,
      pid: process.pid,
      started_at: this.#startedAt,
      heartbeat_at: new Date().toISOString(),
      config_revision: this.#sync.applied?.revision ?? 0,
      error: error && `revision ${error.revision}: ${error.message}`,
      apps_up: local.apps.filter((a) => a.up).map((a) => a.name),
      apps_down: local.apps.filter((a) => !a.up).map((a) => a.name),
      services: local.services,
    };
  }

  // ---- FleetControl (the commands) ---------------------------------------------

  async status(): Promise<FleetStatus> {
    let stale = !this.#conn.connected;
    if (!stale) {
      try {
        const [nodes, rollouts] = await Promise.all([this.#ns.getAll().prefix(NODES_PREFIX).strings(), this.#ns.getAll().prefix(ROLLOUTS_PREFIX).strings()]);
        this.#lastNodes = Object.values(nodes).map((v) => JSON.parse(v) as NodeRecord);
        this.#lastRollouts = Object.values(rollouts).map((v) => JSON.parse(v) as RolloutRecord);
      } catch (err) {
        this.#conn.failed(err);
        stale = true;
      }
    }
    // This node's own row is always current, even when etcd does not answer.
    const nodes = [...this.#lastNodes.filter((n) => n.node !== this.#node), this.#record()].sort((a, b) => a.node.localeCompare(b.node));
    return {
      node: this.#node,
      prefix: this.#cluster.prefix,
      endpoints: this.#cluster.endpoints,
      connected: this.#conn.connected,
      disconnected_since: this.#conn.connected ? null : new Date(this.#conn.since).toISOString(),
      last_error: this.#conn.lastError,
      revision: this.#sync.latest?.revision ?? 0,
      applied_revision: this.#sync.applied?.revision ?? 0,
      stale,
      nodes: nodes.map((n) => ({ ...n, self: n.node === this.#node })),
      rollouts: [...this.#lastRollouts].sort((a, b) => a.service.localeCompare(b.service)),
    };
  }

  async get(): Promise<FleetGetResult> {
    const snap = await this.#read();
    return { revision: snap.revision, document: docsToFile(snap.docs), meta: snap.meta };
  }

  async push(document: unknown, source: string, revision: number | undefined): Promise<FleetPushResult> {
    const docs = docsFromFile(document, source);
    const base = await this.#read();
    const result = await this.#write(() => this.#store.write(base, docs, revision ?? base.revision, `push ${basename(source)}`));
    this.#log.info({ revision: result.revision, changed: result.changed, source }, `fleet: pushed ${source}`);
    return { ...result, source };
  }

  async diff(document: unknown, source: string): Promise<FleetDiffResult> {
    const docs = docsFromFile(document, source);
    const base = await this.#read();
    return { revision: base.revision, changes: diffDocs(base.docs, docs) };
  }

  async setProxy(edit: FleetProxyDoc, what: string): Promise<FleetWrite> {
    for (let attempt = 1; ; attempt++) {
      const base = await this.#read();
      const next = { ...base.docs, proxy: { ...base.docs.proxy, ...edit } };
      validateDocs(next, `fleet ${what}`);
      try {
        return await this.#write(() => this.#store.write(base, next, base.revision, what));
      } catch (err) {
        // A field edit re-applies cleanly on the newer documents.
        if ((err as ProxyctlError).code !== 'PXC_ERR_FLEET_CONFLICT' || attempt >= EDIT_ATTEMPTS) throw err;
      }
    }
  }

  deploy(service: string, maxUnavailable: number, nodeTimeoutS: number): Promise<RolloutRecord> {
    return this.#rollouts.start({ service, maxUnavailable, nodeTimeoutMs: nodeTimeoutS * 1000 });
  }

  async rollout(service: string): Promise<RolloutRecord | null> {
    const mine = this.#rollouts.record(service);
    if (mine) return mine;
    try {
      const text = await this.#ns.get(rolloutKey(service)).string();
      return text === null ? null : (JSON.parse(text) as RolloutRecord);
    } catch (err) {
      this.#conn.failed(err);
      throw unreachable(err);
    }
  }

  async events(after: number, waitS: number): Promise<FleetEventsResult> {
    const r = await this.#feed.poll(after, waitS * 1000);
    return { events: r.events, last: r.last, started: r.started };
  }

  /** The fleet config now, from etcd (PXC_ERR_FLEET_UNREACHABLE when it does not answer). */
  async #read(): Promise<FleetSnapshot> {
    try {
      const snap = await this.#store.read();
      this.#conn.ok();
      return snap;
    } catch (err) {
      if (err instanceof ProxyctlError) throw err;
      this.#conn.failed(err);
      throw unreachable(err);
    }
  }

  async #write(fn: () => Promise<FleetWrite>): Promise<FleetWrite> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ProxyctlError) throw err;
      this.#conn.failed(err);
      throw unreachable(err);
    }
  }
}
