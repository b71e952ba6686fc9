import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { eventCommands } from '../../../src/control/event-commands.js';
import { EventBus } from '../../../src/control/events.js';
import { CommandRegistry } from '../../../src/control/registry.js';
import { ControlServer, MAX_UNSENT_BYTES } from '../../../src/control/server.js';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Events over a raw control socket, the control server in this process: what
 * `socat` or an aria2-style RPC client sees.
 */

const running: Array<{ server: ControlServer; stats: StatsRegistry; bus: EventBus }> = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const { server, stats, bus } of running.splice(0)) {
    await server.close();
    bus.close();
    stats.close();
  }
  await cleanupAgents();
});

async function serve(idleTimeoutMs = 10_000) {
  const registry = new CommandRegistry();
  const stats = new StatsRegistry();
  const bus = new EventBus({ stats: stats.scope('events') });
  registry.add(...eventCommands(bus));
  const path = join(tempDir('pxc-ev-'), 'agent.sock');
  const server = new ControlServer(registry, stats, pino({ level: 'silent' }), { path, mode: 0o600, group: null, maxLine: 65536, idleTimeoutMs, maxConnections: 16, events: bus });
  await server.listen();
  server.open();
  running.push({ server, stats, bus });
  return { path, bus, stats };
}

/** A raw client collecting every line it reads. */
async function client(path: string) {
  const s = createConnection(path);
  sockets.push(s);
  await new Promise<void>((r) => s.once('connect', () => r()));
  const lines: any[] = [];
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  const send = (obj: object) => s.write(JSON.stringify(obj) + '\n');
  return { socket: s, lines, send };
}

const phase = (n: number) => ({ service: 'notes', deploy: n, kind: 'deploy', version: n + 1, from_version: n, state: 'READY', batch: null, result: 'succeeded' as const, error: null });

describe('events on the control socket', () => {
  it('subscribes to topics and receives each event as an "event" notification, and nothing of other topics', async () => {
    const { path, bus } = await serve();
    const c = await client(path);
    c.send({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { topics: ['deploy'] } });
    await waitFor('subscribed', () => c.lines.find((l) => l.id === 1));
    expect(c.lines[0]).toEqual({ jsonrpc: '2.0', id: 1, result: { topics: ['deploy.phase'], seq: 0 } });
    bus.publish('service.scale', { service: 'notes', from: 1, to: 2 });
    bus.publish('deploy.phase', phase(1));
    const ev = await waitFor('event', () => c.lines.find((l) => l.method === 'event'));
    expect(ev).toMatchObject({ jsonrpc: '2.0', method: 'event', params: { topic: 'deploy.phase', seq: 1, ...phase(1) } });
    expect(ev.id).toBeUndefined();
    // Ordinary requests still work on the same connection.
    c.send({ jsonrpc: '2.0', id: 2, method: 'events.topics' });
    await waitFor('topics', () => c.lines.find((l) => l.id === 2));
    expect(c.lines.filter((l) => l.method === 'event')).toHaveLength(1);
  });

  it('keeps a silent subscriber past the idle timeout, and closes a silent non-subscriber', async () => {
    const { path, bus } = await serve(300);
    const sub = await client(path);
    const idle = await client(path);
    sub.send({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: {} });
    await waitFor('subscribed', () => sub.lines.length > 0);
    await waitFor('idle client closed', () => idle.socket.destroyed || idle.socket.readableEnded);
    bus.publish('agent.reload', { config_path: null, ok: true, error: null });
    await waitFor('event after the idle timeout', () => sub.lines.some((l) => l.params?.topic === 'agent.reload'));
  });

  it('refuses a subscription over talk, and an unknown topic naming it', async () => {
    const { path } = await serve();
    const c = await client(path);
    c.send({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { topics: ['deploys'] } });
    const err = await waitFor('error', () => c.lines.find((l) => l.id === 1));
    expect(err.error).toMatchObject({ code: -32602, message: expect.stringContaining('unknown event topic "deploys"'), data: { code: 'PXC_ERR_BAD_PARAMS' } });
    const t = createConnection(path);
    sockets.push(t);
    let reply = '';
    t.setEncoding('utf8').on('data', (d: string) => (reply += d));
    t.write('events subscribe\n');
    await new Promise((r) => t.once('close', r));
    expect(reply).toMatch(/^error: events need a JSON-RPC connection/);
  });

  it('bounds a subscriber that does not read: its unsent bytes stay under the limit, drops are counted, and it gets a lost notification once it reads', async () => {
    const { path, bus, stats } = await serve();
    const c = await client(path);
    c.send({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { topics: ['service.log'] } });
    await waitFor('subscribed', () => c.lines.length > 0);
    c.socket.pause();
    const line = 'x'.repeat(4000);
    // 64 MiB of events published to a client that reads nothing.
    for (let i = 1; i <= 16_384; i++) {
      bus.publish('service.log', { service: 'notes', version: 1, instance: 0, stream: 'stdout', line, log_seq: i });
      if (i % 1024 === 0) await new Promise((r) => setImmediate(r));
    }
    const dropped = (stats.snapshot() as any).events.dropped as number;
    expect(dropped).toBeGreaterThan(10_000);
    expect(process.memoryUsage().rss).toBeLessThan(1024 * 1024 * 1024);
    c.socket.resume();
    const lost = await waitFor('lost notification', () => c.lines.find((l) => l.method === 'lost'), { timeoutMs: 20_000 });
    expect(lost.params.dropped).toBe(dropped);
    const received = c.lines.filter((l) => l.method === 'event').length;
    expect(received + dropped).toBe(16_384);
    // What was written before the drops is bounded by the limit (plus the kernel's socket buffers).
    expect(received * 4100).toBeLessThan(MAX_UNSENT_BYTES + 8 * 1024 * 1024);
    bus.publish('service.log', { service: 'notes', version: 1, instance: 0, stream: 'stdout', line: 'after', log_seq: 16_385 });
    await waitFor('events again', () => c.lines.some((l) => l.params?.line === 'after'));
  });

  it('unsubscribes when the connection closes, and on events.unsubscribe', async () => {
    const { path, bus, stats } = await serve();
    const a = await client(path);
    const b = await client(path);
    a.send({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: {} });
    b.send({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { topics: ['service'] } });
    await waitFor('both subscribed', () => (stats.snapshot() as any).events.subscribers === 2);
    a.socket.destroy();
    await waitFor('one left', () => (stats.snapshot() as any).events.subscribers === 1);
    b.send({ jsonrpc: '2.0', id: 2, method: 'events.unsubscribe' });
    const r = await waitFor('unsubscribed', () => b.lines.find((l) => l.id === 2));
    expect(r.result.topics).toContain('service.exit');
    expect((stats.snapshot() as any).events.subscribers).toBe(0);
    expect(bus.wants('service.exit')).toBe(false);
  });
});
