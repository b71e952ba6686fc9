import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../../src/config/schema.js';
import { ConfigSync } from '../../../src/fleet/config-sync.js';
import { EtcdConnection } from '../../../src/fleet/connection.js';
import type { FleetSnapshot } from '../../../src/fleet/documents.js';
import { connectEtcd } from '../../../src/fleet/etcd.js';
import { FleetStore } from '../../../src/fleet/store.js';
import { StateStore } from '../../../src/state/state-db.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { startEtcd, stopEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { waitFor } from '../../helpers/wait.js';
import { freshPrefix } from './helpers.js';

/**
 * The config sync in process, against a real etcd: one client pushes, the
 * sync's own client reaches etcd through a TCP relay the test can cut, so it
 * misses changes the way a partitioned agent would.
 */

interface Relay {
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

async function startRelay(target: string): Promise<Relay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let listenPort = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(port), hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(listenPort, '127.0.0.1', () => {
        listenPort = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = null;
    for (const x of sockets) x.destroy();
    if (s) await new Promise((r) => s.close(r));
  };
  await listen();
  return { url: `http://127.0.0.1:${listenPort}`, cut, restore: listen, close: cut };
}

let etcd: EtcdCluster;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  etcd = await startEtcd();
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await cleanupAgents();
});
afterAll(async () => {
  await stopEtcd();
});

function cluster(endpoint: string, prefix: string): ClusterConfig {
  return { endpoints: [endpoint], prefix, node: 'n', lease_ttl: 2 };
}

async function setup() {
  const prefix = freshPrefix();
  const relay = await startRelay(etcd.endpoints[0]!);
  const writer = new Etcd3({ hosts: etcd.endpoints });
  const writerStore = new FleetStore(writer.namespace(prefix), 'writer');
  const client = connectEtcd(cluster(relay.url, prefix));
  const ns = client.namespace(prefix);
  const state = new StateStore(join(tempDir(), 'state.db'));
  const log = pino({ level: 'silent' });
  const applied: number[] = [];
  let connected = false;
  const conn = new EtcdConnection(log, (up) => {
    connected = up;
    if (up) void sync.sync();
  });
  const sync: ConfigSync = new ConfigSync(ns, {
    prefix,
    store: new FleetStore(ns, 'n'),
    state,
    conn,
    log,
    apply: async (snap: FleetSnapshot) => {
      applied.push(snap.revision);
      await new Promise((r) => setTimeout(r, 5)); // an apply takes a moment: later changes pile up meanwhile
      sync.markApplied(snap);
    },
    onStateChange: () => undefined,
  });
  closers.push(() => writer.close(), () => relay.close(), () => client.close(), () => state.close(), () => sync.close());
  sync.start();
  await waitFor('sync connected', () => connected);
  /** Pushes one more port, guarded by the revision it read. */
  const push = async (port: number) => {
    const base = await writerStore.read();
    return (await writerStore.write(base, { apps: [{ name: 'web', ports: [port] }] }, base.revision, 'test')).revision;
  };
  return { relay, sync, applied, push, isConnected: () => connected, state };
}

describe('the fleet config sync', () => {
  it('ends on the newest of a burst of revisions, applying none twice and none older than one applied', async () => {
    const { sync, applied, push } = await setup();
    let last = 0;
    for (let i = 0; i < 20; i++) last = await push(20000 + i);
    await waitFor('newest applied', () => sync.applied?.revision === last);
    expect(new Set(applied).size).toBe(applied.length);
    expect([...applied].sort((a, b) => a - b)).toEqual(applied);
    expect(sync.applied!.docs).toEqual({ apps: [{ name: 'web', ports: [20019] }] });
  });

  it('catches up by revision after missing changes while cut off from etcd, and keeps the last applied one in state.db', async () => {
    const { relay, sync, applied, push, isConnected, state } = await setup();
    const first = await push(21000);
    await waitFor('first applied', () => sync.applied?.revision === first);
    await relay.cut();
    await push(21001);
    const missed = await push(21002);
    await waitFor('noticed the cut', () => !isConnected(), { timeoutMs: 15_000 });
    expect(sync.applied?.revision).toBe(first);
    await relay.restore();
    await waitFor('caught up', () => sync.applied?.revision === missed, { timeoutMs: 15_000 });
    // The two missed revisions come as one: the newest state, applied once.
    expect(applied).toEqual([first, missed]);
    expect(state.get<{ revision: number }>('fleet.applied')).toMatchObject({ revision: missed, docs: { apps: [{ ports: [21002] }] } });
  });
});
