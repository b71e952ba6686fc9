import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/deploy/controller.js';
import { cleanupAgents, runCli, startAgent, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort, startEchoServer } from '../../helpers/echo-server.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import { add, info, sha256File, waitJob } from '../download/helpers.js';

/**
 * The agent process from start to stop, where the process boundary is the
 * point: one agent per state dir, state dirs that cannot be made, what
 * --detach shows, the stop deadline, leftovers of a SIGKILLed agent, and the
 * modes of what it writes.
 */

const FAKE = resolve(import.meta.dirname, '../../helpers/fake-service.mjs');

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await closeOrigins();
  await closeTestServers();
});

/** Running, as /proc says: a zombie (exited, not yet reaped by init) is gone. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

const mode = (path: string) => statSync(path).mode & 0o777;

const service = (name: string, app: string, extra: Record<string, unknown> = {}) => ({
  name,
  app,
  command: ['{node}', FAKE],
  ready: { kind: 'jsonrpc' },
  ready_attempts: 100,
  ready_interval: 0.1,
  ...extra,
});

describe('one agent per state dir', () => {
  it("refuses a second agent on the same state dir, naming the first one's pid and socket, while the first one's download completes intact", async () => {
    const origin = await startOrigin();
    const f = origin.addFile('big.bin', 2 * 1024 * 1024 + 7);
    origin.switches.throttleBps = 32 * 1024; // 64 s for the file: still in flight while a second agent starts on a loaded machine (lifted after)
    // In-process: the refusal comes from the state dir's lock, whoever holds it.
    const first = await startInProcessAgent({ config: { downloads: { part_size: 256 * 1024 } }, logLevel: 'info' });
    const id = await add(first, { url: origin.url('big.bin'), sha256: f.sha256 });
    await waitJob(first, id, (j) => j.bytes > 0);

    const other = join(first.stateDir, 'other.sock');
    const r = await runCli(['agent', 'start', '--state-dir', first.stateDir, '--socket', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`proxyctl: another agent (pid ${first.pid}, socket ${first.socket}) is already using the state dir ${first.stateDir}; stop it with 'proxyctl agent stop', or use another --state-dir\n`);
    expect(existsSync(other)).toBe(false);
    expect(await info(first, id)).toMatchObject({ state: 'active', error: null });

    origin.switches.throttleBps = 0;
    const j = await waitJob(first, id);
    expect(j).toMatchObject({ state: 'done', bytes: f.data.length, error: null });
    expect(sha256File(join(first.stateDir, 'downloads', 'big.bin'))).toBe(f.sha256);
  });
});

describe('state dirs that cannot be used', () => {
  it('fails at once with a proxyctl message for /proc/nope and for a path under a file', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const underFile = [['--state-dir', join(file, 'sub')], ['--state-dir', file, '--detach']];
    // Independent runs: at once.
    const [proc, ...rs] = await Promise.all([['--state-dir', '/proc/nope'], ...underFile].map((args) => runCli(['agent', 'start', ...args])));
    expect(proc!.code).toBe(1);
    expect(proc!.stderr).toBe('proxyctl: state dir /proc/nope: cannot create /proc/nope: ENOENT\n');
    for (const [i, args] of underFile.entries()) {
      expect(rs[i]!.code).toBe(1);
      expect(rs[i]!.stderr).toBe(`proxyctl: state dir ${args[1]}: not a directory\n`);
    }
  });
});

describe('agent start --detach', () => {
  it("shows only this attempt's log lines when the agent fails to start, and keeps agent.log private", async () => {
    const dir = tempDir();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ apps: [{ name: 'a', ports: [70000] }] }));
    const first = await runCli(['agent', 'start', '--detach', '--state-dir', dir, '--config', config]);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('apps[0].ports[0]: port 70000 out of range');
    writeFileSync(config, JSON.stringify({ proxy: { bogus: 1 } }));
    const second = await runCli(['agent', 'start', '--detach', '--state-dir', dir, '--config', config]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('proxy: unknown key "bogus"');
    expect(second.stderr).not.toContain('port 70000');
    // Both attempts are in the log, which only the agent's user can read.
    expect(readFileSync(join(dir, 'agent.log'), 'utf8')).toContain('port 70000');
    expect(mode(join(dir, 'agent.log'))).toBe(0o600);
  });
});

describe('agent stop', () => {
  it('is done within --timeout even with an app connection held open and a service that ignores SIGTERM, and leaves nothing running', async () => {
    const echo = await startEchoServer();
    const [appPort, svcPort] = [await freePort(), await freePort()];
    const agent = await startAgent({
      config: {
        forward: { shutdown_grace: 1 },
        apps: [
          { name: 'echo', ports: [appPort], targets: [echo.address] },
          { name: 'svc', ports: [svcPort] },
        ],
        services: [service('stubborn', 'svc', { env: { FAKE_IGNORE_TERM: '1' }, stop_timeout: 60 })],
      },
      logLevel: 'info',
    });
    const info = await waitFor('the service ready', async () => {
      const i = await agent.rpc<ServiceInfo>('service.info', { service: 'stubborn' });
      return i.state === 'READY' ? i : null;
    }, { timeoutMs: 20_000 });
    const instance = info.current!.pid!;
    // A client that sent a line and keeps its connection open, as `(echo hi; sleep 60) | socat - TCP:…` does.
    const client = connect({ host: '127.0.0.1', port: appPort });
    client.on('error', () => undefined);
    let echoed = '';
    client.setEncoding('utf8').on('data', (d: string) => (echoed += d));
    client.write('hi\n');
    await waitFor('the echo through the app', () => echoed === 'hi\n');

    const started = Date.now();
    const stop = await agent.cli(['agent', 'stop', '--timeout', '4'], { timeoutMs: 20_000 });
    expect(stop.stderr).toBe('');
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe(`agent: stopped (pid ${agent.pid})\n`);
    expect(Date.now() - started).toBeLessThan(15_000); // the CLI's own start-up on a loaded box included
    expect(running(agent.pid)).toBe(false);
    expect(running(instance)).toBe(false);
    expect(existsSync(agent.socket)).toBe(false);
    expect(agent.stderr()).toMatch(/deploy did not close within \d+ ms; abandoned/);
    client.destroy();
  });
});

describe('after a kill -9 of the agent', () => {
  it('the next agent stops the service instances the first one left running, and says so, before it launches new ones', async () => {
    // A state dir others can read: tightened to 0700 at start, with a warning.
    const stateDir = tempDir();
    chmodSync(stateDir, 0o755);
    const svcPort = await freePort();
    const config = { apps: [{ name: 'svc', ports: [svcPort] }], services: [service('custom', 'svc', { stop_timeout: 2 })] };
    const first = await startAgent({ stateDir, config, logLevel: 'info' });
    expect(first.stderr()).toContain(`state dir ${stateDir} was mode 0755 (group or others could read state.db and the logs); changed to 0700`);
    expect(mode(stateDir)).toBe(0o700);
    const old = await waitFor('v1 ready', async () => (await first.rpc<ServiceInfo>('service.info', { service: 'custom' })).current?.pid);
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'agent.lock', 'agent.pid']) expect([f, mode(join(stateDir, f))]).toEqual([f, 0o600]);

    await first.kill9();
    expect(running(old)).toBe(true); // orphaned: in its own process group, it did not get the agent's signal

    const second = await startAgent({ stateDir, config, logLevel: 'info' });
    expect(running(old)).toBe(false);
    expect(second.stderr()).toMatch(new RegExp(`reaped custom@v1 \\(pid ${old}, process group ${old}\\) left running by a previous agent: SIGTERM`));
    const fresh = await waitFor('a new v1 ready', async () => (await second.rpc<ServiceInfo>('service.info', { service: 'custom' })).current?.pid);
    expect(fresh).not.toBe(old);
    expect(second.stderr()).not.toContain('was mode');
  });
});
