import Database from 'better-sqlite3';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { serviceSchema, type ServiceConfig } from '../../src/config/schema.js';
import { EventBus, TOPIC_NAMES, type BusEvent } from '../../src/control/events.js';
import { DeploymentController, type DeployRecord } from '../../src/deploy/controller.js';
import { ServiceHistory } from '../../src/deploy/history.js';
import { InstanceClient } from '../../src/deploy/probe.js';
import type { AppTargets } from '../../src/forward/api.js';
import { StatsRegistry } from '../../src/stats/registry.js';

/**
 * A DeploymentController in this process with real instances of
 * test/helpers/fake-service.mjs, an AppTargets that records what it was
 * asked, an event bus whose events are collected, and a state.db of its own
 * (or a given file, to restart on it).
 */

export const FAKE = resolve(import.meta.dirname, 'fake-service.mjs');

/** AppTargets that only records what the controller asked for, and when. */
export class FakeTargets implements AppTargets {
  readonly targets = new Set<string>();
  readonly events: string[] = [];
  readonly addedAt = new Map<string, number>();
  hasApp(app: string): boolean {
    return app === 'web';
  }
  listening(): Array<{ host: string; port: number }> {
    return [];
  }
  addTarget(_app: string, address: string): void {
    this.events.push(`add ${address}`);
    this.addedAt.set(address, Date.now());
    this.targets.add(address);
  }
  async removeTarget(_app: string, address: string): Promise<void> {
    this.events.push(`remove ${address}`);
    this.targets.delete(address);
  }
  connections(): number {
    return 0;
  }
}

export interface TestController {
  controller: DeploymentController;
  targets: FakeTargets;
  config: ServiceConfig;
  events: BusEvent[];
  client: InstanceClient;
  db: Database.Database;
  stats: StatsRegistry;
}

const open: Array<{ c: DeploymentController; stats: StatsRegistry; client: InstanceClient; bus: EventBus; db: Database.Database }> = [];

export function makeController(over: Partial<ServiceConfig> & { env?: Record<string, string> } = {}, dbPath = ':memory:'): TestController {
  const config = serviceSchema.parse({
    name: 'svc',
    app: 'web',
    command: [process.execPath, FAKE],
    ready: { kind: 'jsonrpc', path: '/rpc' },
    ready_attempts: 20,
    ready_interval: 0.05,
    drain: 0.3,
    stop_timeout: 2,
    ...over,
  });
  const targets = new FakeTargets();
  const stats = new StatsRegistry();
  const client = new InstanceClient();
  const bus = new EventBus();
  const events: BusEvent[] = [];
  bus.subscribe(TOPIC_NAMES, (_line, e) => events.push(e));
  const db = new Database(dbPath);
  const controller = new DeploymentController(config, {
    targets,
    logger: pino({ level: 'silent' }),
    stats: stats.scope('services', { service: config.name }),
    client,
    placeholders: { proxyctl: '/nonexistent/run.js', node: process.execPath, state_dir: '/tmp' },
    history: new ServiceHistory(db),
    events: bus,
  });
  open.push({ c: controller, stats, client, bus, db });
  return { controller, targets, config, events, client, db, stats };
}

/** Starts an operation and waits for its end. */
export async function settle(c: DeploymentController, start: (c: DeploymentController) => DeployRecord = (x) => x.deploy()): Promise<DeployRecord> {
  start(c);
  return (await c.settled())!;
}

/** Closes every controller made since the last call (afterEach). */
export async function closeControllers(): Promise<void> {
  await Promise.all(
    open.splice(0).map(async ({ c, stats, client, bus, db }) => {
      await c.close();
      bus.close();
      stats.close();
      await client.close();
      db.close();
    }),
  );
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
