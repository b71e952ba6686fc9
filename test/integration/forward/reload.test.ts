import { afterEach, describe, expect, it } from 'vitest';
import type { AppInfo } from '../../../src/forward/app.js';
import type { AppSummary } from '../../../src/forward/commands.js';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { boundPort, boundPorts } from '../../helpers/app-ports.js';
import { connectAndWaitClose, openEchoClient, roundTrip, startEchoServer } from '../../helpers/echo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await closeTestServers();
});

describe('hot reload of apps (real agent)', () => {
  it('the issue’s scenario: both ports echo, a stopped target shows down, a reload adds an app without dropping a connection', async () => {
    const [e1, e2] = [await startEchoServer(), await startEchoServer()];
    const fly = { Apps: [{ Name: 'echo', Ports: [0, 0], Targets: [e1.address, e2.address] }] };
    const agent = await startInProcessAgent({ config: { ...fly, apps: [] } });
    const [p1, p2] = (await boundPorts(agent, 'echo')) as [number, number];
    expect((await roundTrip(p1, 'one')).toString()).toBe('one');
    expect((await roundTrip(p2, 'two')).toString()).toBe('two');
    const longLived = await openEchoClient(p1); // round-robin: e1
    expect(await longLived.echo('before')).toBe('before');

    const e3 = await startEchoServer();
    agent.writeConfig({ ...fly, apps: [{ name: 'more', ports: [0], targets: [e3.address] }] });
    const reload = await agent.cli(['agent', 'reload']);
    expect(reload.code).toBe(0);
    // the reload kept echo's kernel-picked ports
    expect(await boundPorts(agent, 'echo')).toEqual([p1, p2]);
    expect((await roundTrip(await boundPort(agent, 'more'), 'new app')).toString()).toBe('new app');
    expect(await longLived.echo('after reload')).toBe('after reload');

    const list = await agent.cli(['app', 'list', '--json']);
    expect((JSON.parse(list.stdout) as AppSummary[]).map((a) => a.name).sort()).toEqual(['echo', 'more']);

    // Stop E2: connect failures count against it (fall 3) while every client still gets its echo.
    await e2.close();
    for (let i = 0; i < 8; i++) expect((await roundTrip(i % 2 ? p2 : p1, `echo ${i}`)).toString()).toBe(`echo ${i}`);
    const info = await agent.cli(['app', 'info', 'echo', '--json']);
    expect(info.code).toBe(0);
    const targets = (JSON.parse(info.stdout) as AppInfo).targets;
    expect(targets.map((t) => t.address)).toEqual([e1.address, e2.address]);
    expect(targets[0]!.health).not.toBe('down'); // up, or unknown before its first check (5 s)
    expect(targets[1]!.health).toBe('down');
    expect(targets[1]!.connect_failures).toBe(3);
    expect(await longLived.echo('e1 untouched')).toBe('e1 untouched');
    longLived.close();
  });

  it('a long-lived connection keeps flowing across a reload that removes its app; the removed port refuses', async () => {
    const e = await startEchoServer();
    const agent = await startInProcessAgent({ config: { apps: [{ name: 'old', ports: [0], targets: [e.address] }] } });
    const p1 = await boundPort(agent, 'old');
    const c = await openEchoClient(p1);
    expect(await c.echo('a')).toBe('a');
    agent.writeConfig({ apps: [{ name: 'new', ports: [0], targets: [e.address] }] });
    expect((await agent.talk('reload')).trim()).toBe('OK');
    const p2 = await boundPort(agent, 'new');
    expect((await roundTrip(p2, 'b')).toString()).toBe('b');
    expect((await connectAndWaitClose(p1)).error).toBe('ECONNREFUSED');
    for (let i = 0; i < 20; i++) expect(await c.echo(`msg ${i} `)).toBe(`msg ${i} `);
    const err = await agent.rpc('app.info', { name: 'old' }).catch((e: { rpc: { data: { code: string } } }) => e.rpc.data.code);
    expect(err).toBe('PXC_ERR_UNKNOWN_APP');
    c.close();
  });

  it('a port added to an app accepts and a removed one refuses; new targets apply to new connections only', async () => {
    const [e1, e2] = [await startEchoServer(), await startEchoServer()];
    const agent = await startAgent({ config: { apps: [{ name: 'web', ports: [0, 0], targets: [e1.address] }] } });
    const [p1, p2] = (await boundPorts(agent, 'web')) as [number, number];
    const open = await openEchoClient(p1);
    await open.echo('x');
    // Kernel-picked ports are kept by their place among the app's zeros: the second goes…
    agent.writeConfig({ apps: [{ name: 'web', ports: [0], targets: [e2.address], balance: 'least-conn' }] });
    process.kill(agent.pid, 'SIGHUP');
    await waitFor('the second port closed', async () => (await agent.rpc<AppInfo>('app.info', { name: 'web' })).ports.length === 1);
    expect((await connectAndWaitClose(p2)).error).toBe('ECONNREFUSED');
    // …and a port added later is a new listener.
    agent.writeConfig({ apps: [{ name: 'web', ports: [0, 0], targets: [e2.address], balance: 'least-conn' }] });
    process.kill(agent.pid, 'SIGHUP');
    await waitFor('the added port listening', async () => (await agent.rpc<AppInfo>('app.info', { name: 'web' })).ports.filter((p) => p.state === 'listening').length === 2);
    const [kept, p3] = (await boundPorts(agent, 'web')) as [number, number];
    expect(kept).toBe(p1);
    expect((await roundTrip(p3, 'y')).toString()).toBe('y');
    expect((await roundTrip(p1, 'z')).toString()).toBe('z');
    expect(e2.connections).toBe(2);
    expect(await open.echo('old target still serves')).toBe('old target still serves');
    const info = await agent.rpc<AppInfo>('app.info', { name: 'web' });
    expect(info.balance).toBe('least-conn');
    expect(info.targets.map((t) => t.address)).toEqual([e2.address]);
    open.close();
  });

  it('agent reload exits 1 naming every listener it could not open, and the old listener keeps serving', async () => {
    const e = await startEchoServer();
    const busy = await startEchoServer();
    const agent = await startInProcessAgent({ config: { apps: [{ name: 'web', ports: [0], targets: [e.address] }] } });
    const p1 = await boundPort(agent, 'web');
    agent.writeConfig({
      apps: [
        { name: 'web', ports: [p1], bind: '999.1.1.1', targets: [e.address] },
        { name: 'more', ports: [0, busy.port], targets: [e.address] },
      ],
    });
    const r = await agent.cli(['agent', 'reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`app web: cannot listen on 999.1.1.1:${p1}`);
    expect(r.stderr).toContain(`(still listening on 127.0.0.1:${p1})`);
    expect(r.stderr).toContain(`app more: port ${busy.port} already in use`);
    expect((await agent.talk('reload')).trim()).toMatch(/^error: config reloaded, but 2 listeners could not be opened: /);
    // Applied where it could be: the old listener of web serves, more serves on its first port.
    expect((await roundTrip(p1, 'kept')).toString()).toBe('kept');
    const more = (await agent.rpc<AppInfo>('app.info', { name: 'more' })).ports;
    expect(more.map((p) => p.state)).toEqual(['listening', 'error']);
    expect((await roundTrip(more[0]!.bound_port!, 'new')).toString()).toBe('new');
  });

  it('an invalid reload changes nothing and names the problem', async () => {
    const e = await startEchoServer();
    const agent = await startInProcessAgent({ config: { apps: [{ name: 'web', ports: [0], targets: [e.address] }] } });
    const p1 = await boundPort(agent, 'web');
    agent.writeConfig({ apps: [{ name: 'web', ports: [0, 0], targets: [e.address] }, { name: 'dup', ports: [p1, p1], targets: ['nohost'] }] });
    const r = await agent.cli(['agent', 'reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('apps[1].ports[1]: port');
    expect(r.stderr).toContain('apps[1].targets[0]: malformed target');
    expect((await roundTrip(p1, 'still')).toString()).toBe('still');
    // nothing of the refused config applied: no app dup, web on its one port
    expect((await agent.rpc<Array<{ name: string }>>('app.list')).map((a) => a.name)).toEqual(['web']);
    expect(await boundPorts(agent, 'web')).toEqual([p1]);
  });
});
