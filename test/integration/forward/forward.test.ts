import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { connectAndWaitClose, freePort, openEchoClient, roundTrip, startEchoServer } from '../../helpers/echo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import type { AppInfo } from '../../../src/forward/app.js';

afterEach(async () => {
  await cleanupAgents();
  await closeTestServers();
});

describe('app proxy forwarding (real agent)', () => {
  it('serves a Fly-form app on both ports, round-robin over both targets', async () => {
    const [e1, e2] = [await startEchoServer(), await startEchoServer()];
    const [p1, p2] = [await freePort(), await freePort()];
    const agent = await startAgent({ config: { Apps: [{ Name: 'echo', Ports: [p1, p2], Targets: [e1.address, e2.address] }] } });
    for (let i = 0; i < 4; i++) {
      expect((await roundTrip(i % 2 ? p2 : p1, `hello ${i}`)).toString()).toBe(`hello ${i}`);
    }
    const info = await agent.rpc<AppInfo>('app.info', { name: 'echo' });
    expect(info.ports.map((p) => p.state)).toEqual(['listening', 'listening']);
    expect(info.total).toBe(4);
    expect(info.bytes_in).toBe(info.bytes_out);
    expect(info.targets.map((t) => [t.address, t.health, t.total])).toEqual([
      [e1.address, 'up', 2],
      [e2.address, 'up', 2],
    ]);
  });

  it('skips a dead target, counts the failure, and still answers every client', async () => {
    const e = await startEchoServer();
    const dead = `127.0.0.1:${await freePort()}`;
    const port = await freePort();
    const agent = await startAgent({ config: { apps: [{ name: 'web', ports: [port], targets: [dead, e.address], health: { interval: 60, fall: 100 } }] } });
    for (let i = 0; i < 4; i++) expect((await roundTrip(port, 'x'.repeat(i + 1))).toString()).toBe('x'.repeat(i + 1));
    const info = await agent.rpc<AppInfo>('app.info', { name: 'web' });
    expect(info.connect_failures).toBe(2); // round-robin put every other first attempt on the dead one
    expect(info.targets.find((t) => t.address === dead)!.connect_failures).toBe(2);
    expect(info.total).toBe(4);
    expect(info.no_target).toBe(0);

    // The runtime commands, over talk and through the CLI.
    expect((await agent.talk(`target drain web ${dead}`)).trim()).toBe('OK');
    expect((await agent.talk('app list')).trim()).toBe(`web tcp ports=${port} targets=1/2 active=0`);
    const drained = await agent.cli(['target', 'enable', 'web', dead]);
    expect(drained.code).toBe(0);
    const unknown = await agent.cli(['target', 'disable', 'web', '127.0.0.1:1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('app "web" has no target 127.0.0.1:1');
    const noApp = await agent.cli(['app', 'info', 'nope', '--json']);
    expect(noApp.code).toBe(1);
    expect(JSON.parse(noApp.stdout)).toMatchObject({ error: { code: 'PXC_ERR_UNKNOWN_APP' } });
    expect((await agent.talk('target drain web')).trim()).toBe('error: target drain: usage: target drain APP HOST:PORT');
  });

  it('closes the client at once when no target is reachable, and counts it', async () => {
    const port = await freePort();
    const agent = await startAgent({ config: { apps: [{ name: 'web', ports: [port], targets: [`127.0.0.1:${await freePort()}`], health: { interval: 60 } }] } });
    const r = await connectAndWaitClose(port);
    expect(r.data).toBe('');
    const info = await agent.rpc<AppInfo>('app.info', { name: 'web' });
    expect(info.no_target).toBe(1);
    expect(info.active).toBe(0);
  });

  it('takes a target down on failed health checks, and back up when it answers again', async () => {
    const e1 = await startEchoServer();
    const e2 = await startEchoServer();
    const port = await freePort();
    const agent = await startAgent({ config: { apps: [{ name: 'echo', ports: [port], targets: [e1.address, e2.address], health: { interval: 0.05, timeout: 0.5, rise: 2, fall: 2 } }] } });
    const e1Port = e1.port;
    await e1.close();
    await waitFor('e1 down', async () => (await agent.rpc<AppInfo>('app.info', { name: 'echo' })).targets[0]!.health === 'down');
    // Relayed connections, from the agent's counters (the echo servers also see health checks).
    const relayed = async () => (await agent.rpc<AppInfo>('app.info', { name: 'echo' })).targets.map((t) => t.total);
    const [e1Before, e2Before] = await relayed();
    for (let i = 0; i < 4; i++) expect((await roundTrip(port, 'ping')).toString()).toBe('ping');
    const [e1After, e2After] = await relayed();
    expect([e1After! - e1Before!, e2After! - e2Before!]).toEqual([0, 4]);
    const back = await startEchoServer({ port: e1Port });
    await waitFor('e1 up again', async () => (await agent.rpc<AppInfo>('app.info', { name: 'echo' })).targets[0]!.health === 'up');
    for (let i = 0; i < 4; i++) await roundTrip(port, 'ping');
    const [e1Back] = await relayed();
    expect(e1Back! - e1After!).toBe(2); // round-robin again
    const cli = await agent.cli(['app', 'info', 'echo', '--json']);
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as AppInfo).targets.map((t) => t.health)).toEqual(['up', 'up']);
  });

  it('relays half-close: the client’s FIN reaches the target and the reply still arrives', async () => {
    const e = await startEchoServer();
    const port = await freePort();
    await startAgent({ config: { apps: [{ name: 'echo', ports: [port], targets: [e.address] }] } });
    const payload = Buffer.alloc(3 * 1024 * 1024, 'abcdefgh');
    const got = await roundTrip(port, payload);
    expect(got.length).toBe(payload.length);
    expect(got.equals(payload)).toBe(true);
  });

  it('keeps 1 000 concurrent connections open and echoing', async () => {
    const e = await startEchoServer();
    const port = await freePort();
    const agent = await startAgent({ config: { apps: [{ name: 'echo', ports: [port], targets: [e.address] }] } });
    const clients = [];
    for (let i = 0; i < 1000; i += 100) clients.push(...(await Promise.all(Array.from({ length: 100 }, () => openEchoClient(port)))));
    await waitFor('1000 active', async () => (await agent.rpc<AppInfo>('app.info', { name: 'echo' })).active === 1000);
    const replies = await Promise.all(clients.map((c, i) => c.echo(`client ${i}\n`)));
    replies.forEach((r, i) => expect(r).toBe(`client ${i}\n`));
    for (const c of clients) c.close();
    await waitFor('all closed', async () => (await agent.rpc<AppInfo>('app.info', { name: 'echo' })).active === 0);
    expect(e.open).toBe(0);
  });
});
