import { afterEach, describe, expect, it } from 'vitest';
import type { AppInfo } from '../../../src/forward/app.js';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { openFooClient, startFooServer, type FooServer } from '../../helpers/foo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';

afterEach(async () => {
  await cleanupAgents();
  await closeTestServers();
});

async function fooAgent(server: FooServer, foo: object = {}) {
  const port = await freePort();
  const agent = await startAgent({ config: { apps: [{ name: 'foo', ports: [port], targets: [server.address], protocol: 'foo' }], foo } });
  return { agent, port, info: () => agent.rpc<AppInfo>('app.info', { name: 'foo' }).then((i) => i.foo!) };
}

describe('Foo mode (real agent)', () => {
  it('counts 10 000 pipelined REQs and their ACK/NAK exactly, and SIGUSR1 prints the counters', async () => {
    const server = await startFooServer({ nakEvery: 7 });
    const { agent, port, info } = await fooAgent(server);
    const client = await openFooClient(port);
    const n = 10_000;
    let text = '';
    for (let i = 1; i <= n; i++) text += `REQ ${i} payload number ${i} ✓\n`;
    client.send(text);
    const lines = await client.waitLines(n);
    expect(lines[0]).toBe('ACK 1 payload number 1 ✓');
    expect(lines[6]).toBe('NAK 7 no');
    const naks = Math.floor(n / 7);
    expect(await info()).toMatchObject({ msg_req: n, msg_ack: n - naks, msg_nak: naks, msg_total: 2 * n, msg_invalid: 0 });
    process.kill(agent.pid, 'SIGUSR1');
    const printed = await waitFor('SIGUSR1 stats on stdout', () =>
      agent
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"msg_req"'))
        .map((l) => JSON.parse(l) as { apps: Record<string, Record<string, number>> })[0],
    );
    expect(printed.apps.foo).toMatchObject({ msg_total: 2 * n, msg_req: n, msg_ack: n - naks, msg_nak: naks, msg_invalid: 0 });
    for (const k of ['request_rate_1s', 'request_rate_10s', 'response_rate_1s', 'response_rate_10s']) expect(printed.apps.foo).toHaveProperty(k);
    client.close();
  });

  it('counts exactly when the client writes byte by byte and the server replies in fragments', async () => {
    const server = await startFooServer({ fragment: 3, nakEvery: 4 });
    const { port, info } = await fooAgent(server);
    const client = await openFooClient(port);
    let text = '';
    for (let i = 1; i <= 40; i++) text += `REQ ${i} ünïcödé ${i}\n`;
    await client.sendByteByByte(text);
    const lines = await client.waitLines(40);
    expect(lines[3]).toBe('NAK 4 no');
    expect(await info()).toMatchObject({ msg_req: 40, msg_ack: 30, msg_nak: 10, msg_total: 80, msg_invalid: 0 });
    client.close();
  });

  it('forwards invalid lines by default: the server answers NAK 0 ERRDECODE, both are counted', async () => {
    const server = await startFooServer();
    const { port, info } = await fooAgent(server);
    const client = await openFooClient(port);
    client.send('REQ 1 a\nhello there\nREQ 2 b\n');
    expect(await client.waitLines(3)).toEqual(['ACK 1 a', 'NAK 0 ERRDECODE', 'ACK 2 b']);
    expect(await info()).toMatchObject({ msg_req: 2, msg_ack: 2, msg_nak: 1, msg_invalid: 1, msg_total: 5 });
    client.close();
  });

  it('closes the connection on an invalid line under on_invalid=close, after forwarding what came before', async () => {
    const server = await startFooServer();
    const { port, info } = await fooAgent(server, { on_invalid: 'close' });
    const client = await openFooClient(port);
    client.send('REQ 1 a\nBAD\nREQ 2 b\n');
    await client.closed;
    await waitFor('server got REQ 1', () => server.received.req === 1);
    expect(server.received.invalid).toBe(0);
    expect(await info()).toMatchObject({ msg_req: 1, msg_invalid: 1 });
  });

  it('closes a connection whose line exceeds foo.max_line', async () => {
    const server = await startFooServer();
    const { port } = await fooAgent(server, { max_line: 1024 });
    const client = await openFooClient(port);
    client.send(`REQ 1 ${'x'.repeat(4096)}`);
    await client.closed;
  });
});
