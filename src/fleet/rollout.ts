import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { EtcdLockFailedError, type Lock, type Namespace } from 'etcd3';
import type { Logger } from 'pino';
import { ProxyctlError } from '../errors.js';
import type { DeployRequest, DeployStatus } from './deploy-requests.js';
import { describeEtcdError } from './etcd.js';
import { deployRequestKey, deployStatusOf, lockKey, NODES_PREFIX, rolloutKey } from './keys.js';
import type { NodeRecord } from './node-record.js';

export interface RolloutNode {
  node: string;
  state: 'waiting' | 'requested' | 'deploying' | 'succeeded' | 'failed' | 'not run';
  from_version: number | null;
  version: number | null;
  error: string | null;
  /** ISO 8601 of the last change. */
  at: string | null;
}

/** A fleet deploy: kept at `rollouts/SERVICE` (under the lock's lease while it runs). */
export interface RolloutRecord {
  id: string;
  service: string;
  coordinator: string;
  max_unavailable: number;
  state: 'running' | 'succeeded' | 'failed';
  started_at: string;
  finished_at: string | null;
  error: string | null;
  /** The nodes running the service, in rollout order. */
  nodes: RolloutNode[];
}

export interface RolloutOptions {
  service: string;
  /** Nodes deploying at once (a batch). */
  maxUnavailable: number;
  /** A node that has not finished its deploy this long after it was asked fails the rollout. */
  nodeTimeoutMs: number;
}

export interface CoordinatorOptions {
  node: string;
  /** Lease TTL of the lock, seconds: a coordinator that dies frees it this long after. */
  ttl: number;
  log: Logger;
}

/** How often a running rollout reads its nodes' answers. */
const POLL_MS = 200;

const now = () => new Date().toISOString();

/**
 * The coordinator of fleet deploys, in the agent the CLI talks to. It holds
 * an etcd lock per service (etcd3's Lock: a key created only if absent,
 * under a lease this agent keeps alive), asks the nodes running the service
 * to deploy batch by batch, and stops at the first node that fails. The lock
 * lives exactly as long as this agent does: stopped, it releases it; killed,
 * its lease expires after lease_ttl and etcd deletes the lock with it.
 */
export class RolloutCoordinator {
  readonly #ns: Namespace;
  readonly #o: CoordinatorOptions;
  /** The newest rollout this agent coordinated, per service. */
  readonly #records = new Map<string, RolloutRecord>();
  readonly #running = new Set<Promise<void>>();
  #closing = false;

  constructor(ns: Namespace, opts: CoordinatorOptions) {
    this.#ns = ns;
    this.#o = opts;
  }

  /** Takes the service's lock and starts the rollout; resolves with its first record. */
  async start(opts: RolloutOptions): Promise<RolloutRecord> {
    if (this.#closing) throw new ProxyctlError('PXC_ERR_SHUTTING_DOWN', 'the agent is shutting down');
    const { service } = opts;
    const lock = this.#ns.lock(lockKey(service)).ttl(this.#o.ttl);
    try {
      await lock.acquire();
    } catch (err) {
      if (err instanceof EtcdLockFailedError) throw await this.#locked(service);
      throw unreachable(err);
    }
    let record: RolloutRecord;
    let leaseId: string;
    try {
      leaseId = (await lock.leaseId())!;
      const nodes = await this.#nodes();
      const targets = nodes.filter((n) => n.services.some((s) => s.name === service)).map((n) => n.node);
      if (targets.length === 0) {
        throw new ProxyctlError('PXC_ERR_UNKNOWN_SERVICE', `no node of the fleet runs a service named "${service}"${nodes.length ? ` (nodes: ${nodes.map((n) => n.node).join(', ')})` : ' (no node is registered)'}`);
      }
      record = {
        id: `${service}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
        service,
        coordinator: this.#o.node,
        max_unavailable: opts.maxUnavailable,
        state: 'running',
        started_at: now(),
        finished_at: null,
        error: null,
        nodes: targets.map((node) => ({ node, state: 'waiting', from_version: null, version: null, error: null, at: null })),
      };
      await this.#ns.put(rolloutKey(service)).value(JSON.stringify(record)).lease(leaseId);
    } catch (err) {
      await lock.release().catch(() => undefined);
      throw err instanceof ProxyctlError ? err : unreachable(err);
    }
    this.#records.set(service, record);
    this.#o.log.info({ rollout: record.id, nodes: record.nodes.length, max_unavailable: opts.maxUnavailable }, `fleet deploy of ${service}: ${record.nodes.map((n) => n.node).join(', ')}`);
    const run = this.#run(record, opts, lock, leaseId).finally(() => this.#running.delete(run));
    this.#running.add(run);
    return structuredClone(record);
  }

  /** The newest rollout of the service this agent coordinated (null if none). */
  record(service: string): RolloutRecord | null {
    const r = this.#records.get(service);
    return r ? structuredClone(r) : null;
  }

  async #run(record: RolloutRecord, opts: RolloutOptions, lock: Lock, leaseId: string): Promise<void> {
    const log = this.#o.log.child({ rollout: record.id, service: record.service });
    try {
      for (let i = 0; i < record.nodes.length && record.state === 'running'; i += opts.maxUnavailable) {
        await this.#batch(record, record.nodes.slice(i, i + opts.maxUnavailable), opts, leaseId);
      }
      if (record.state === 'running') record.state = 'succeeded';
    } catch (err) {
      record.state = 'failed';
      record.error = (err as Error).message;
    }
    for (const n of record.nodes) if (n.state === 'waiting') n.state = 'not run';
    record.finished_at = now();
    if (record.state === 'succeeded') log.info(`fleet deploy of ${record.service} succeeded on ${record.nodes.length} node(s)`);
    else log.error(`fleet deploy of ${record.service} failed: ${record.error}`);
    // The result outlives the lock (no lease); the requests and answers go.
    await this.#ns.put(rolloutKey(record.service)).value(JSON.stringify(record)).catch(() => undefined);
    await Promise.all(record.nodes.map((n) => this.#ns.delete().key(deployRequestKey(n.node, record.service)).catch(() => undefined)));
    await this.#ns.delete().prefix(deployStatusOf(record.id)).catch(() => undefined);
    await lock.release().catch(() => undefined);
  }

  /** Asks each node of the batch, then waits until each has finished (or failed, left, timed out). */
  async #batch(record: RolloutRecord, batch: RolloutNode[], opts: RolloutOptions, leaseId: string): Promise<void> {
    for (const n of batch) {
      const req: DeployRequest = { rollout: record.id, service: record.service, coordinator: this.#o.node, at: now() };
      try {
        // Under the lock's lease: a put fails once the lock is gone, and the requests go with it.
        await this.#ns.put(deployRequestKey(n.node, record.service)).value(JSON.stringify(req)).lease(leaseId);
      } catch (err) {
        throw new Error(`cannot ask ${n.node} to deploy (etcd: ${describeEtcdError(err)}); the deploy lock may be lost`);
      }
      Object.assign(n, { state: 'requested', at: now() });
    }
    await this.#publish(record, leaseId);
    const deadline = Date.now() + opts.nodeTimeoutMs;
    let lastAnswer = Date.now();
    while (batch.some((n) => n.state === 'requested' || n.state === 'deploying')) {
      await sleep(POLL_MS);
      if (this.#closing) throw new Error(`coordinator ${this.#o.node} stopped during the deploy`);
      let statuses: Map<string, DeployStatus>;
      let present: Set<string>;
      try {
        [statuses, present] = await Promise.all([this.#statuses(record.id), this.#nodes().then((ns) => new Set(ns.map((x) => x.node)))]);
        lastAnswer = Date.now();
      } catch (err) {
        // etcd away: the lock's lease outlives a short outage; beyond lease_ttl it is gone.
        if (Date.now() - lastAnswer > this.#o.ttl * 1000) throw new Error(`etcd unreachable for over ${this.#o.ttl} s during the deploy (the deploy lock is lost): ${describeEtcdError(err)}`);
        continue;
      }
      let changed = false;
      for (const n of batch) {
        if (n.state !== 'requested' && n.state !== 'deploying') continue;
        const s = statuses.get(n.node);
        if (s && (s.state !== n.state || s.version !== n.version)) {
          Object.assign(n, { state: s.state, from_version: s.from_version, version: s.version, error: s.error, at: s.at });
          changed = true;
        } else if (!present.has(n.node)) {
          Object.assign(n, { state: 'failed', error: `${n.node} left the fleet during its deploy (its node record is gone)`, at: now() });
          changed = true;
        } else if (Date.now() > deadline) {
          Object.assign(n, { state: 'failed', error: `${n.node} did not finish its deploy within ${opts.nodeTimeoutMs / 1000} s`, at: now() });
          changed = true;
        }
      }
      if (changed) await this.#publish(record, leaseId);
    }
    const failed = batch.find((n) => n.state === 'failed');
    if (failed) {
      record.state = 'failed';
      record.error = `stopped at node ${failed.node}: ${failed.error ?? 'its deploy failed'}`;
    }
  }

  async #publish(record: RolloutRecord, leaseId: string): Promise<void> {
    await this.#ns.put(rolloutKey(record.service)).value(JSON.stringify(record)).lease(leaseId).catch((err: Error) => this.#o.log.warn({ err: err.message }, 'fleet: rollout record not updated'));
  }

  async #statuses(rollout: string): Promise<Map<string, DeployStatus>> {
    const values = await this.#ns.getAll().prefix(deployStatusOf(rollout)).strings();
    return new Map(Object.values(values).map((v) => JSON.parse(v) as DeployStatus).map((s) => [s.node, s]));
  }

  async #nodes(): Promise<NodeRecord[]> {
    const values = await this.#ns.getAll().prefix(NODES_PREFIX).strings();
    return Object.values(values)
      .map((v) => JSON.parse(v) as NodeRecord)
      .sort((a, b) => a.node.localeCompare(b.node));
  }

  /** The refusal of a second fleet deploy, naming the one holding the lock. */
  async #locked(service: string): Promise<ProxyctlError> {
    let holder = '';
    try {
      const r = JSON.parse((await this.#ns.get(rolloutKey(service)).string()) ?? 'null') as RolloutRecord | null;
      if (r && r.state === 'running') holder = ` (rollout ${r.id}, coordinator ${r.coordinator}, started ${r.started_at})`;
    } catch {
      // the refusal stands without the details
    }
    return new ProxyctlError('PXC_ERR_FLEET_DEPLOY_LOCKED', `a fleet deploy of ${service} is already running${holder}; wait for it to end (fleet status)`);
  }

  /** Ends running rollouts (recorded as failed: coordinator stopping) and releases their locks. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#running);
  }
}

export function unreachable(err: unknown): ProxyctlError {
  return new ProxyctlError('PXC_ERR_FLEET_UNREACHABLE', `etcd unreachable: ${describeEtcdError(err)}`, { cause: err });
}
