import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './echo-server.js';
import { waitFor } from './wait.js';

/**
 * A real etcd (Debian's etcd-server, installed by .ci/run) for the fleet
 * tests: one member or a cluster of several on free loopback ports, each with
 * a temp data dir (on /dev/shm when there is one: fsync there costs nothing).
 * Members can be killed (SIGKILL) and restarted on the same data and ports.
 * `stopEtcd()` in afterAll/afterEach stops what is left.
 */

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly running: boolean;
  /** What the member wrote to stderr since its last start. */
  log(): string;
}

export interface EtcdCluster {
  /** Client URLs of every member, as cluster.endpoints. */
  readonly endpoints: string[];
  readonly members: readonly EtcdMember[];
  /** SIGKILL member i and wait for its exit. */
  kill(i: number): Promise<void>;
  /** Starts member i again (same data dir and ports) and waits until it serves. */
  restart(i: number): Promise<void>;
  killAll(): Promise<void>;
  /** Restarts every stopped member at once (a cluster needs a quorum to serve) and waits until each serves. */
  restartAll(): Promise<void>;
  stop(): Promise<void>;
}

const BIN = process.env.ETCD_BIN ?? 'etcd';
const clusters = new Set<EtcdCluster>();

interface MemberState {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | null;
  exited: Promise<void>;
  stderr: string;
}

export async function startEtcd({ members = 1 }: { members?: number } = {}): Promise<EtcdCluster> {
  const base = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'pxc-etcd-'));
  const states: MemberState[] = [];
  for (let i = 0; i < members; i++) {
    states.push({ name: `m${i}`, clientUrl: `http://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}`, dataDir: join(base, `m${i}`), child: null, exited: Promise.resolve(), stderr: '' });
  }
  const initialCluster = states.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const launch = (m: MemberState) => {
    const child = spawn(BIN, [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', base,
      // Quick elections, with room for a loaded 2-core box.
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-level', 'error',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    m.child = child;
    m.stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (m.stderr += c));
    m.exited = new Promise((r) => child.once('exit', () => r()));
    void m.exited.then(() => {
      if (m.child === child) m.child = null;
    });
  };
  const serving = (m: MemberState) =>
    waitFor(`etcd ${m.name} at ${m.clientUrl}`, async () => {
      if (!m.child) throw new Error(`etcd ${m.name} exited:\n${m.stderr}`);
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && ((await res.json()) as { health: string }).health === 'true';
    }, { timeoutMs: 60_000, intervalMs: 50 });
  const kill = async (m: MemberState) => {
    m.child?.kill('SIGKILL');
    await m.exited;
  };

  for (const m of states) launch(m);
  await Promise.all(states.map(serving));

  const cluster: EtcdCluster = {
    endpoints: states.map((m) => m.clientUrl),
    members: states.map((m) => ({ name: m.name, clientUrl: m.clientUrl, peerUrl: m.peerUrl, get running() { return m.child !== null; }, log: () => m.stderr })),
    kill: (i) => kill(states[i]!),
    restart: async (i) => {
      launch(states[i]!);
      await serving(states[i]!);
    },
    killAll: async () => {
      await Promise.all(states.map(kill));
    },
    restartAll: async () => {
      const stopped = states.filter((m) => !m.child);
      for (const m of stopped) launch(m);
      await Promise.all(stopped.map(serving));
    },
    stop: async () => {
      clusters.delete(cluster);
      await Promise.all(states.map(kill));
      rmSync(base, { recursive: true, force: true });
    },
  };
  clusters.add(cluster);
  return cluster;
}

/** Stops every etcd the tests started (afterAll / afterEach). */
export async function stopEtcd(): Promise<void> {
  await Promise.all([...clusters].map((c) => c.stop()));
}
