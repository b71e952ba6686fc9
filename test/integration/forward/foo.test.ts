import { afterEach, describe, expect, it } from 'vitest';
import type { AppInfo } from '../../../src/forward/app.js';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { openFooClient, startFooServer, type FooServer } from '../../helpers/foo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import { closeForwards, ENGINES, startForward, type EngineName } from './harness.js';

afterEach(async () => {
  await closeForwards();
  await cleanupAgents();
  await closeTestServers();
});

async function fooProxy(engine: EngineName, server: FooServer, foo: object = {}) {
  const f = await startForward(engine, { apps: [{ name: 'foo', ports: [0], targets: [server.address], protocol: 'foo' }], foo });
  return { port: f.port('foo'), info: () => f.info('foo').foo! };
}

describe.each(ENGINES)('Foo mode, %s engine', (engine) => {
  it('counts 10 000 pipelined REQs and their ACK/NAK exactly', async () => {
    const server = await startFooServer({ nakEvery: 7 });
    const { port, info } = await fooProxy(engine, server);
    const client = await openFooClient(port);
    const n = 10_000;
    let text = '';
    for (let i = 1; i <= n; i++) text += `REQ ${i} payload number ${i} ✓\n`;
    client.send(text);
    const lines = await client.waitLines(n);
    expect(lines[0]).toBe('ACK 1 payload number 1 ✓');
    expect(lines[6]).toBe('NAK 7 no');
    const naks = Math.floor(n / 7);
    await waitFor('every reply counted', () => info().msg_total === 2 * n);
    expect(info()).toMatchObject({ msg_req: n, msg_ack: n - naks, msg_nak: naks, msg_total: 2 * n, msg_invalid: 0 });
    client.close();
  });

  it('counts 10 000 pipelined REQs exactly when the client writes byte by byte and the server replies in fragments', async () => {
    const server = await startFooServer({ fragment: 3, nakEvery: 4 });
    const { port, info } = await fooProxy(engine, server);
    const client = await openFooClient(port);
    const n = 10_000;
    let text = '';
    for (let i = 1; i <= n; i++) text += i % 1000 === 1 ? `REQ ${i} ünïcödé\n` : `REQ ${i}\n`;
    await client.sendByteByByte(text);
    const lines = await client.waitLines(n, 60_000);
    expect(lines[3]).toBe('NAK 4 no');
    expect(lines[0]).toBe('ACK 1 ünïcödé');
    await waitFor('every reply counted', () => info().msg_total === 2 * n);
    expect(info()).toMatchObject({ msg_req: n, msg_ack: n - n / 4, msg_nak: n / 4, msg_total: 2 * n, msg_invalid: 0 });
    client.close();
  });

  it('forwards invalid lines by default: the server answers NAK 0 ERRDECODE, both are counted', async () => {
    const server = await startFooServer();
    const { port, info } = await fooProxy(engine, server);
    const client = await openFooClient(port);
    client.send('REQ 1 a\nhello there\nREQ 2 b\n');
    expect(await client.waitLines(3)).toEqual(['ACK 1 a', 'NAK 0 ERRDECODE', 'ACK 2 b']);
    await waitFor('counted', () => info().msg_total === 5);
    expect(info()).toMatchObject({ msg_req: 2, msg_ack: 2, msg_nak: 1, msg_invalid: 1, msg_total: 5 });
    client.close();
  });

  it('closes the connection on an invalid line under on_invalid=close, after forwarding what came before', async () => {
    const server = await startFooServer();
    const { port, info } = await fooProxy(engine, server, { on_invalid: 'close' });
    const client = await openFooClient(port);
    client.send('REQ 1 a\nBAD\nREQ 2 b\n');
    await client.closed;
    await waitFor('server got REQ 1', () => server.received.req === 1);
    expect(server.received.invalid).toBe(0);
    expect(info()).toMatchObject({ msg_req: 1, msg_invalid: 1 });
  });

  it('closes a connection whose line exceeds foo.max_line', async () => {
    const server = await startFooServer();
    const { port } = await fooProxy(engine, server, { max_line: 1024 });
    const client = await openFooClient(port);
    client.send(`REQ 1 ${'x'.repeat(4096)}`);
    await client.closed;
  });
});

describe('Foo counters on SIGUSR1 (real agent)', () => {
  it('SIGUSR1 prints the counters and rates as JSON', async () => {
    const server = await startFooServer({ nakEvery: 7 });
    const agent = await startAgent({ config: { apps: [{ name: 'foo', ports: [0], targets: [server.address], protocol: 'foo' }] } });
    const port = (await agent.rpc<AppInfo>('app.info', { name: 'foo' })).ports[0]!.bound_port!;
    const client = await openFooClient(port);
    let text = '';
    for (let i = 1; i <= 700; i++) text += `REQ ${i} x\n`;
    client.send(text);
    await client.waitLines(700);
    await waitFor('counted', async () => (await agent.rpc<AppInfo>('app.info', { name: 'foo' })).foo!.msg_total === 1400);
    process.kill(agent.pid, 'SIGUSR1');
    const printed = await waitFor('SIGUSR1 stats on stdout', () =>
      agent
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"msg_req"'))
        .map((l) => JSON.parse(l) as { apps: Record<string, Record<string, number>>; forward: Record<string, unknown> })[0],
    );
    expect(printed.apps.foo).toMatchObject({ msg_total: 1400, msg_req: 700, msg_ack: 600, msg_nak: 100, msg_invalid: 0 });
    for (const k of ['request_rate_1s', 'request_rate_10s', 'response_rate_1s', 'response_rate_10s']) expect(printed.apps.foo).toHaveProperty(k);
    expect(printed.forward).toMatchObject({ engine: 'native' });
    client.close();
  });
});
