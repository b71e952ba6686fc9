import { setTimeout as sleep } from 'node:timers/promises';
import type { Lease, Namespace, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { EtcdConnection } from './connection.js';
import { deployRequestsOf, deployStatusKey } from './keys.js';
import type { LocalDeploy } from './api.js';
import { cancelWatch } from './watch.js';

/** What a coordinator writes to `deploy/NODE/SERVICE`. */
export interface DeployRequest {
  rollout: string;
  service: string;
  coordinator: string;
  at: string;
}

/** What the node answers at `deploy-status/ROLLOUT/NODE`. */
export interface DeployStatus {
  rollout: string;
  node: string;
  service: string;
  state: 'deploying' | 'succeeded' | 'failed';
  from_version: number | null;
  version: number | null;
  error: string | null;
  at: string;
}

export interface DeployRequestsOptions {
  node: string;
  conn: EtcdConnection;
  log: Logger;
  /** Starts this node's own rolling deploy of the service (throws when it cannot start). */
  deploy(service: string): LocalDeploy;
  /** The node's lease: statuses go under it, so they vanish with the node. */
  lease(): Lease | null;
  /** A local deploy started or ended: the node record should show the new version. */
  onChange(): void;
}

/** Rollouts answered recently, so a replayed request (watch resumed after a reconnect) deploys once. */
const REMEMBERED = 256;

/**
 * The node side of fleet deploys: watches `deploy/<this node>/` and, for
 * each new request, runs the node's own rolling deploy of the service and
 * reports its start and end under `deploy-status/`.
 */
export class DeployRequests {
  readonly #ns: Namespace;
  readonly #o: DeployRequestsOptions;
  readonly #seen: string[] = [];
  #watcher: Watcher | null = null;
  #closed = false;

  constructor(ns: Namespace, opts: DeployRequestsOptions) {
    this.#ns = ns;
    this.#o = opts;
  }

  start(): void {
    this.#watch();
  }

  #watch(): void {
    if (this.#closed) return;
    const w = this.#ns.watch().prefix(deployRequestsOf(this.#o.node)).watcher();
    this.#watcher = w;
    w.on('put', (kv) => {
      let req: DeployRequest;
      try {
        req = JSON.parse(kv.value.toString()) as DeployRequest;
      } catch {
        this.#o.log.warn({ key: kv.key.toString() }, 'fleet: malformed deploy request ignored');
        return;
      }
      void this.#handle(req);
    });
    w.on('error', (err) => {
      this.#o.log.warn({ err: err.message }, 'fleet: deploy request watch cancelled by etcd; watching again');
      if (this.#watcher === w) this.#watch();
    });
  }

  async #handle(req: DeployRequest): Promise<void> {
    if (this.#seen.includes(req.rollout)) return;
    this.#seen.push(req.rollout);
    if (this.#seen.length > REMEMBERED) this.#seen.shift();
    const log = this.#o.log.child({ rollout: req.rollout, service: req.service });
    const base = { rollout: req.rollout, node: this.#o.node, service: req.service };
    let local: LocalDeploy;
    try {
      local = this.#o.deploy(req.service);
    } catch (err) {
      log.error(`fleet deploy of ${req.service} (coordinator ${req.coordinator}): cannot start here: ${(err as Error).message}`);
      await this.#report({ ...base, state: 'failed', from_version: null, version: null, error: (err as Error).message, at: new Date().toISOString() });
      return;
    }
    log.info(`fleet deploy of ${req.service} (coordinator ${req.coordinator}): v${local.from_version ?? '-'} -> v${local.version}`);
    this.#o.onChange();
    await this.#report({ ...base, state: 'deploying', from_version: local.from_version, version: local.version, error: null, at: new Date().toISOString() });
    const end = await local.done;
    this.#o.onChange();
    await this.#report({ ...base, state: end.result, from_version: local.from_version, version: end.version, error: end.error, at: new Date().toISOString() });
  }

  /** Writes a status, retrying while etcd is away (for up to a minute: the coordinator gives up on us by then). */
  async #report(status: DeployStatus): Promise<void> {
    const key = deployStatusKey(status.rollout, status.node);
    const deadline = Date.now() + 60_000;
    while (!this.#closed) {
      try {
        const lease = this.#o.lease();
        await (lease ? lease.put(key) : this.#ns.put(key)).value(JSON.stringify(status));
        return;
      } catch (err) {
        this.#o.conn.failed(err);
        if (Date.now() > deadline) {
          this.#o.log.error({ rollout: status.rollout }, `fleet: could not report deploy ${status.state} to etcd: ${(err as Error).message}`);
          return;
        }
        await sleep(500);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watcher) await cancelWatch(this.#watcher);
    this.#watcher = null;
  }
}
