import { afterEach, describe, expect, it } from 'vitest';
import type { AppInfo } from '../../../src/forward/app.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAgents, runCli, startAgent, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { connectAndWaitClose, freePort, roundTrip, startEchoServer } from '../../helpers/echo-server.js';
import { boundPorts } from '../../helpers/app-ports.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import { EventBus, type BusEvent } from '../../../src/control/events.js';
import { closeForwards, ENGINES, startForward } from './harness.js';

afterEach(async () => {
  await closeForwards();
  await closeInProcessAgents();
  await cleanupAgents();
  await closeTestServers();
});

describe('app proxy forwarding (real agent)', () => {
  it('serves a Fly-form app on both ports round-robin, on the native engine by default; talk, the CLI and agent status say so', async () => {
    const [e1, e2] = [await startEchoServer(), await startEchoServer()];
    const agent = await startInProcessAgent({ config: { Apps: [{ Name: 'echo', Ports: [0, 0], Targets: [e1.address, e2.address] }] } });
    const [p1, p2] = (await boundPorts(agent, 'echo')) as [number, number];
    expect(p1).not.toBe(p2);
    for (let i = 0; i < 4; i++) expect((await roundTrip(i % 2 ? p2 : p1, `hello ${i}`)).toString()).toBe(`hello ${i}`);
    const info = await agent.rpc<AppInfo>('app.info', { name: 'echo' });
    expect(info.engine).toBe('native');
    expect(info.ports.map((p) => p.state)).toEqual(['listening', 'listening']);
    expect(info.total).toBe(4);
    expect(info.bytes_in).toBe(info.bytes_out);
    // Never checked yet (the first check is one health.interval, 5 s, after start): unknown, and taking traffic.
    expect(info.targets.map((t) => [t.address, t.health, t.total])).toEqual([
      [e1.address, 'unknown', 2],
      [e2.address, 'unknown', 2],
    ]);
    expect(info).toMatchObject({ targets_up: 0, targets_unknown: 2 });
    // Still within the first 5 s (no CLI process started yet), so app list says unknown too.
    expect((await agent.talk(`target drain echo ${e1.address}`)).trim()).toBe(`echo ${e1.address}: draining`);
    expect((await agent.talk('app list')).trim().split('\n')[1]).toMatch(new RegExp(`^echo\\s+tcp\\s+${p1},${p2}\\s+0/2 \\(2 unknown\\)\\s+0\\s+4\\s+-$`));

    const status = await agent.cli(['agent', 'status']);
    expect(status.stdout).toMatch(/^engine\s+native$/m);
    expect(status.stdout).toMatch(/^metrics\s+-$/m); // metrics.listen off (its bound address: prometheus.test.ts)
    // (The descriptor limit's raise is logged by a spawned agent: agent/signals.test.ts.)

    // The runtime commands, over talk and through the CLI.
    const enabled = await agent.cli(['target', 'enable', 'echo', e1.address]);
    expect(enabled).toMatchObject({ code: 0, stdout: `echo ${e1.address}: enabled\n` });
    const unknown = await agent.cli(['target', 'disable', 'echo', '127.0.0.1:1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('app "echo" has no target 127.0.0.1:1');
    const noApp = await agent.cli(['app', 'info', 'nope', '--json']);
    expect(noApp.code).toBe(1);
    expect(JSON.parse(noApp.stdout)).toMatchObject({ error: { code: 'PXC_ERR_UNKNOWN_APP' } });
    expect((await agent.talk('target drain echo')).trim()).toBe('error: target drain: usage: target drain APP HOST:PORT');
  });

  it('agent start fails (exit 1) naming the app and the port when a port is in use, and serves the rest with --allow-partial', async () => {
    const busy = await startEchoServer();
    const config = { apps: [{ name: 'web', ports: [busy.port] }, { name: 'ok', ports: [0] }] };
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const failed = await runCli(['agent', 'start', '--state-dir', dir, '--config', join(dir, 'config.json'), '--log-level', 'silent'], { timeoutMs: 20_000 });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`proxyctl: app web: port ${busy.port} already in use`);
    const partial = await startInProcessAgent({ config, allowPartial: true });
    const info = await partial.rpc<AppInfo>('app.info', { name: 'web' });
    expect(info.ports[0]).toMatchObject({ state: 'error', error: `app web: port ${busy.port} already in use` });
    expect((await partial.rpc<AppInfo>('app.info', { name: 'ok' })).ports[0]!.state).toBe('listening');
  });

  it('runs the node engine with one warning naming why when the addon cannot load (auto), and refuses to start under engine native', async () => {
    const e = await startEchoServer();
    const env = { PROXYCTL_NATIVE_ADDON: '/nonexistent/proxyctl_engine.node' };
    const agent = await startAgent({ config: { apps: [{ name: 'web', ports: [0], targets: [e.address] }] }, env });
    const warnings = agent.stderr().split('\n').filter((l) => l.includes('the native engine is not available'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('forward.engine auto: the native engine is not available (/nonexistent/proxyctl_engine.node: ');
    expect((await agent.cli(['agent', 'status'])).stdout).toMatch(/^engine\s+node$/m);
    const [port] = (await boundPorts(agent, 'web')) as [number];
    expect((await roundTrip(port, 'through node')).toString()).toBe('through node');

    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ forward: { engine: 'native' } }));
    const refused = await runCli(['agent', 'start', '--state-dir', dir, '--config', join(dir, 'config.json'), '--log-level', 'silent'], { env, timeoutMs: 20_000 });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('forward.engine: the native engine is not available: /nonexistent/proxyctl_engine.node: ');
  });
});

describe.each(ENGINES)('app proxy forwarding, %s engine', (engine) => {
  it('skips a dead target, counts the failure, and still answers every client', async () => {
    const e = await startEchoServer();
    const dead = `127.0.0.1:${await freePort()}`;
    const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [dead, e.address], health: { interval: 60, fall: 100 } }] });
    const port = f.port('web');
    for (let i = 0; i < 4; i++) expect((await roundTrip(port, 'x'.repeat(i + 1))).toString()).toBe('x'.repeat(i + 1));
    const info = f.info('web');
    expect(info.connect_failures).toBe(2); // round-robin put every other first attempt on the dead one
    expect(info.targets.find((t) => t.address === dead)!.connect_failures).toBe(2);
    expect(info.total).toBe(4);
    expect(info.no_target).toBe(0);
  });

  it('closes the client at once when no target is reachable, and counts it', async () => {
    const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [`127.0.0.1:${await freePort()}`], health: { interval: 60 } }] });
    const r = await connectAndWaitClose(f.port('web'));
    expect(r.data).toBe('');
    // The engine counts no_target before the connection's close lowers active: wait for both.
    await waitFor('counted and closed', () => f.info('web').no_target === 1 && f.info('web').active === 0);
  });

  it('takes a target down after `fall` connect failures, and passes every client to the other one', async () => {
    const e = await startEchoServer();
    const dead = `127.0.0.1:${await freePort()}`;
    const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [dead, e.address], health: { interval: 60, fall: 3 } }] });
    for (let i = 0; i < 10; i++) expect((await roundTrip(f.port('web'), `c${i}`)).toString()).toBe(`c${i}`);
    const t = f.info('web').targets.find((x) => x.address === dead)!;
    expect(t).toMatchObject({ health: 'down', connect_failures: 3, last_error: 'connect: ECONNREFUSED' });
  });

  it('takes a target down on failed health checks, and back up when it answers again, publishing target.health each time', async () => {
    const e1 = await startEchoServer();
    const e2 = await startEchoServer();
    const bus = new EventBus();
    const events: BusEvent[] = [];
    bus.subscribe(['target.health'], (_line, e) => events.push(e));
    const f = await startForward(engine, { apps: [{ name: 'echo', ports: [0], targets: [e1.address, e2.address], health: { interval: 0.05, timeout: 0.5, rise: 2, fall: 2 } }] }, { events: bus });
    const port = f.port('echo');
    const e1Port = e1.port;
    await e1.close();
    await waitFor('e1 down', () => f.info('echo').targets[0]!.health === 'down');
    const relayed = () => f.info('echo').targets.map((t) => t.total);
    const [e1Before, e2Before] = relayed();
    for (let i = 0; i < 4; i++) expect((await roundTrip(port, 'ping')).toString()).toBe('ping');
    const [e1After, e2After] = relayed();
    expect([e1After! - e1Before!, e2After! - e2Before!]).toEqual([0, 4]);
    await startEchoServer({ port: e1Port });
    await waitFor('e1 up again', () => f.info('echo').targets[0]!.health === 'up');
    for (let i = 0; i < 4; i++) await roundTrip(port, 'ping');
    const [e1Back] = relayed();
    expect(e1Back! - e1After!).toBe(2); // round-robin again
    // e1 may have come up from unknown before it was closed; from its fall on: down, then up.
    const e1Events = events.filter((e) => e.target === e1.address).map((e) => [e.health, e.error === null ? null : 'error']);
    expect(e1Events.slice(e1Events.findIndex(([h]) => h === 'down'))).toEqual([['down', 'error'], ['up', null]]);
    expect(events.find((e) => e.health === 'down')).toMatchObject({ topic: 'target.health', app: 'echo', error: expect.stringMatching(/ECONNREFUSED|refused/) });
    bus.close();
  });

  it('relays half-close: the client’s FIN reaches the target and the 3 MB reply still arrives whole', async () => {
    const e = await startEchoServer();
    const f = await startForward(engine, { apps: [{ name: 'echo', ports: [0], targets: [e.address] }] });
    const payload = Buffer.alloc(3 * 1024 * 1024, 'abcdefgh');
    const got = await roundTrip(f.port('echo'), payload);
    expect(got.length).toBe(payload.length);
    expect(got.equals(payload)).toBe(true);
    await waitFor('byte counters', () => f.info('echo').bytes_out === payload.length);
    expect(f.info('echo').bytes_in).toBe(payload.length);
  });
});
