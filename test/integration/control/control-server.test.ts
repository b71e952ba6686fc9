import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { coreCommands } from '../../../src/agent/core-commands.js';
import { ConfigError } from '../../../src/config/load.js';
import { CommandRegistry, defineCommand } from '../../../src/control/registry.js';
import { ControlServer, MAX_BATCH, MAX_IN_FLIGHT, type ControlServerOptions } from '../../../src/control/server.js';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { tempDir, cleanupAgents } from '../../helpers/agent.js';
import { readAll } from '../../helpers/socket-client.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The control server in this process, on a real Unix socket: half-closing
 * clients, reply order, batches and ids, backpressure, connection limits and
 * over-long lines. The agent behind it is a fake with the real core commands.
 */

interface Harness {
  server: ControlServer;
  path: string;
  stats: StatsRegistry;
  /** Calls of test.slow started so far, and the gate they wait on. */
  slowStarted: () => number;
  release: () => void;
  bigCalls: () => number;
  setReloadError: (message: string | null) => void;
}

const running: Array<{ server: ControlServer; stats: StatsRegistry }> = [];

afterEach(async () => {
  for (const { server, stats } of running.splice(0)) {
    await server.close();
    stats.close();
  }
  await cleanupAgents();
});

async function serve(opts: Partial<ControlServerOptions> = {}): Promise<Harness> {
  const registry = new CommandRegistry();
  const stats = new StatsRegistry();
  let reloadError: string | null = null;
  registry.add(...coreCommands({
    info: () => ({ pid: 42, version: '9.9.9', uptime_s: 1, socket: 'x', state_dir: 'y', config_path: null, engine: null, metrics: null }),
    reload: async () => {
      // As the agent's reload does: real file I/O before the answer, so the reply comes after the client's FIN was read.
      await readFile(import.meta.filename);
      if (reloadError) throw new ConfigError('/etc/proxyctl.json', [reloadError]);
      return { config_path: null, reloaded: true };
    },
    stats: () => stats.snapshot(),
    shutdown: () => undefined,
    commands: () => registry.list(),
  }));
  let slow = 0;
  let gate!: () => void;
  let gateOpen = new Promise<void>((r) => (gate = r));
  let big = 0;
  registry.add(
    defineCommand({
      method: 'test.slow',
      talk: 'slow',
      summary: 'waits for the test to release it',
      params: z.object({ n: z.number().optional() }).strict(),
      handler: async ({ n }) => {
        slow++;
        await gateOpen;
        return n ?? null;
      },
    }),
    defineCommand({
      method: 'test.big',
      talk: 'big',
      summary: 'a 32 KiB reply',
      params: z.object({ n: z.number() }).strict(),
      handler: ({ n }) => {
        big++;
        return { n, pad: 'x'.repeat(32 * 1024) };
      },
    }),
  );
  const path = join(tempDir(), 'agent.sock');
  const server = new ControlServer(registry, stats, pino({ level: 'silent' }), {
    path,
    mode: 0o600,
    group: null,
    maxLine: 65536,
    idleTimeoutMs: 10_000,
    maxConnections: 256,
    ...opts,
  });
  await server.listen();
  server.open();
  running.push({ server, stats });
  return {
    server,
    path,
    stats,
    slowStarted: () => slow,
    release: () => {
      gate();
      gateOpen = new Promise<void>((r) => (gate = r));
    },
    bigCalls: () => big,
    setReloadError: (m) => (reloadError = m),
  };
}

function connect(path: string, allowHalfOpen = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path, allowHalfOpen });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}


/** Sends `text` and half-closes at once, as `printf … | socat -` does; resolves with the whole reply. */
async function halfClose(path: string, text: string): Promise<string> {
  const s = await connect(path, true);
  const reply = readAll(s);
  s.end(text);
  const out = await reply;
  return out;
}

/** Reads reply lines from an open connection. */
function lines(s: Socket): { next: () => Promise<string>; all: string[] } {
  const all: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  let buf = '';
  let taken = 0;
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      all.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    while (waiters.length > 0 && taken < all.length) waiters.shift()!(all[taken++]!);
  });
  return {
    all,
    next: () => (taken < all.length ? Promise.resolve(all[taken++]!) : new Promise((r) => waiters.push(r))),
  };
}

const rpc = (id: unknown, method: string, params?: object) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

function socat(path: string, input: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('socat', ['-', `UNIX-CONNECT:${path}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout }));
    child.stdin.end(input);
  });
}

describe('talk: a client that half-closes after its line', () => {
  it('gets every reply, an error included, 20 times of 20', async () => {
    const h = await serve();
    for (let i = 0; i < 20; i++) expect(await halfClose(h.path, 'reload\n')).toBe('OK\n');
    h.setReloadError('apps[0].ports[0]: port 70000 out of range');
    for (let i = 0; i < 20; i++) expect(await halfClose(h.path, 'reload\n')).toBe('error: /etc/proxyctl.json: apps[0].ports[0]: port 70000 out of range\n');
  });

  it("gets the reply through `printf 'reload\\n' | socat - UNIX-CONNECT:…`, 20 times of 20", async () => {
    const h = await serve();
    h.setReloadError('proxy: unknown key "bogus"');
    for (let i = 0; i < 20; i++) {
      const r = await socat(h.path, 'reload\n');
      expect(r.stdout).toBe('error: /etc/proxyctl.json: proxy: unknown key "bogus"\n');
      expect(r.code).toBe(0);
    }
    h.setReloadError(null);
    expect((await socat(h.path, 'reload\n')).stdout).toBe('OK\n');
  });

  it('gets an answer to a last line sent without its newline', async () => {
    const h = await serve();
    expect(await halfClose(h.path, 'pid')).toBe('42\n');
    expect(JSON.parse(await halfClose(h.path, rpc(7, 'agent.pid')))).toEqual({ jsonrpc: '2.0', id: 7, result: 42 });
  });
});

describe('JSON-RPC: order, batches and ids', () => {
  it('answers a JSON-RPC request before the talk line that follows it on the same connection, then closes', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const all = readAll(s);
    s.write(`${rpc(1, 'test.slow', { n: 5 })}\npid\n`);
    await waitFor('the slow request started', () => h.slowStarted() === 1);
    h.release();
    const out = (await all).split('\n');
    expect(JSON.parse(out[0]!)).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
    expect(out.slice(1)).toEqual(['42', '']);
  });

  it('answers pipelined requests in the order they came, though a later one finished first', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const r = lines(s);
    s.write([rpc('a', 'test.slow', { n: 1 }), rpc('b', 'agent.pid'), rpc('c', 'agent.version')].join('\n') + '\n');
    await waitFor('the slow request started', () => h.slowStarted() === 1);
    h.release();
    expect([await r.next(), await r.next(), await r.next()].map((l) => JSON.parse(l).id)).toEqual(['a', 'b', 'c']);
    s.destroy();
  });

  it('answers a batch with one array, skips its notifications, and sends nothing for a batch of notifications', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const r = lines(s);
    s.write(`[${rpc(1, 'agent.pid')},{"jsonrpc":"2.0","method":"agent.version"},${rpc('x', 'frob.nicate')},7]\n`);
    const batch = JSON.parse(await r.next());
    expect(batch).toHaveLength(3);
    expect(batch[0]).toEqual({ jsonrpc: '2.0', id: 1, result: 42 });
    expect(batch[1]).toMatchObject({ id: 'x', error: { code: -32601, data: { code: 'PXC_ERR_UNKNOWN_COMMAND' } } });
    expect(batch[2]).toMatchObject({ id: null, error: { code: -32600 } });
    // A batch of notifications: no line at all, so the next reply is the next request's.
    s.write(`[{"jsonrpc":"2.0","method":"agent.pid"}]\n${rpc(2, 'agent.pid')}\n`);
    expect(JSON.parse(await r.next())).toEqual({ jsonrpc: '2.0', id: 2, result: 42 });
    s.destroy();
  });

  it('refuses an empty batch and an oversized one with -32600, and a batch is never taken for a talk line', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const r = lines(s);
    const huge = `[${Array.from({ length: MAX_BATCH + 1 }, (_, i) => rpc(i, 'agent.pid')).join(',')}]`;
    s.write(`[]\n${huge}\n [\n`);
    expect(JSON.parse(await r.next())).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: an empty batch' } });
    expect(JSON.parse(await r.next()).error).toEqual({ code: -32600, message: `invalid request: a batch of ${MAX_BATCH + 1} requests (at most ${MAX_BATCH})` });
    // A line starting with a space is talk: the connection ends after it.
    expect(await r.next()).toMatch(/^error: unknown command "\["/);
  });

  it('takes only string, number or null ids; any other id is -32600 with id null', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const r = lines(s);
    for (const id of ['{}', '[1]', 'true', '"s"', 'null', '-3']) s.write(`{"jsonrpc":"2.0","id":${id},"method":"agent.pid"}\n`);
    const replies = await Promise.all(Array.from({ length: 6 }, () => r.next()));
    for (const bad of replies.slice(0, 3)) expect(JSON.parse(bad)).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: id must be a string, a number or null' } });
    expect(replies.slice(3).map((l) => JSON.parse(l))).toEqual([
      { jsonrpc: '2.0', id: 's', result: 42 },
      { jsonrpc: '2.0', id: null, result: 42 },
      { jsonrpc: '2.0', id: -3, result: 42 },
    ]);
    s.destroy();
  });

  it('echoes a number id exactly as it was sent, alone or in a batch', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const r = lines(s);
    const ids = ['1e400', '1.0', '-0', '1E+2', '123456789012345678901234567890', '0.1000000000000000055511151231257827'];
    for (const id of ids) s.write(`{"jsonrpc":"2.0","method":"agent.pid","id" : ${id} }\n`);
    for (const id of ids) expect(await r.next()).toBe(`{"jsonrpc":"2.0","id":${id},"result":42}`);
    // Nested ids and keys that only decode to "id" are told apart from the member itself.
    s.write(`[{"params":{"id":1},"\\u0069d":2.50,"jsonrpc":"2.0","method":"agent.version"},{"jsonrpc":"2.0","id":"7","method":"agent.pid"}]\n`);
    s.write(`{"jsonrpc":"2.0","method":"agent.pid","id":1,"id":3.0}\n`);
    expect(await r.next()).toBe('[{"jsonrpc":"2.0","id":2.50,"error":{"code":-32602,"message":"version: Unrecognized key(s) in object: \'id\'","data":{"code":"PXC_ERR_BAD_PARAMS"}}},{"jsonrpc":"2.0","id":"7","result":42}]');
    expect(await r.next()).toBe('{"jsonrpc":"2.0","id":3.0,"result":42}');
    s.destroy();
  });
});

describe('backpressure and limits', () => {
  it('stops reading a client that never reads its replies, then answers every request once it does', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const count = 1000; // 1000 × 32 KiB replies = 31 MiB if nothing held the agent back
    s.write(Array.from({ length: count }, (_, i) => rpc(i, 'test.big', { n: i })).join('\n') + '\n');
    await waitFor('the connection paused', () => (h.stats.snapshot().control as Record<string, number>).paused_connections === 1);
    // Paused: 1 MiB unsent (32 replies), what the kernel's socket buffer took, and the requests in flight.
    expect(h.bigCalls()).toBeLessThan(MAX_IN_FLIGHT + 32 + 32);
    const r = lines(s);
    for (let i = 0; i < count; i++) expect(JSON.parse(await r.next()).id).toBe(i);
    expect(h.bigCalls()).toBe(count);
    s.destroy();
  });

  it(`runs at most ${MAX_IN_FLIGHT} requests of one connection at a time`, async () => {
    const h = await serve();
    const s = await connect(h.path);
    const r = lines(s);
    s.write(Array.from({ length: 100 }, (_, i) => rpc(i, 'test.slow', { n: i })).join('\n') + '\n');
    await waitFor('the connection paused', () => (h.stats.snapshot().control as Record<string, number>).paused_connections === 1);
    expect(h.slowStarted()).toBe(MAX_IN_FLIGHT);
    // Another connection is not held up by this one.
    expect(await halfClose(h.path, 'pid\n')).toBe('42\n');
    for (let seen = 0; seen < 100; seen = r.all.length) {
      h.release(); // the requests started so far finish; the next ones wait for the next release
      await waitFor('more replies', () => r.all.length > seen);
    }
    expect(r.all.map((l) => JSON.parse(l).result)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    s.destroy();
  });

  it('refuses connections over control.max_connections with an error, and serves again once one closes', async () => {
    const h = await serve({ maxConnections: 5 });
    const idle = await Promise.all(Array.from({ length: 5 }, () => connect(h.path)));
    await waitFor('5 connections open', () => (h.stats.snapshot().control as Record<string, number>).active_connections === 5);
    const refused = await connect(h.path);
    expect(await readAll(refused)).toBe('error: too many control connections (control.max_connections is 5); try again later\n');
    expect((h.stats.snapshot().control as Record<string, number>).refused).toBe(1);
    idle[0]!.destroy();
    await waitFor('a slot free', () => (h.stats.snapshot().control as Record<string, number>).active_connections === 4);
    expect(await halfClose(h.path, 'pid\n')).toBe('42\n');
    for (const s of idle) s.destroy();
  });
});

describe('over-long lines', () => {
  it('answer a 1 MiB line with the error before closing, whatever the client\'s write saw, 8 clients at once', async () => {
    const h = await serve();
    const one = async (json: boolean) => {
      const s = await connect(h.path);
      const reply = readAll(s);
      s.write((json ? '{"pad":"' : 'x') + 'y'.repeat(1024 * 1024) + '\n', () => undefined);
      return reply;
    };
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => one(i % 2 === 1)));
    for (const [i, reply] of replies.entries()) {
      if (i % 2 === 0) expect(reply).toBe('error: control line longer than 65536 bytes\n');
      else expect(JSON.parse(reply)).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'control line longer than 65536 bytes', data: { code: 'PXC_ERR_LINE_TOO_LONG' } } });
    }
    expect(await halfClose(h.path, 'pid\n')).toBe('42\n');
  });

  it('answer a client that writes its whole 1 MiB line before it reads: the rest of the line is read and dropped, not cut off', async () => {
    const h = await serve();
    for (let i = 0; i < 4; i++) {
      const s = await connect(h.path);
      s.pause(); // as `sendall(); recv()`: nothing is read until the write is done
      const wrote = await new Promise<Error | null | undefined>((resolve) => s.write('w'.repeat(1024 * 1024) + '\n', resolve));
      expect(wrote ?? null).toBeNull();
      s.end(); // our side is done; the agent closes once it has answered
      const reply = readAll(s);
      s.resume();
      expect(await reply).toBe('error: control line longer than 65536 bytes\n');
    }
  });

  it('answer the requests before the long line first', async () => {
    const h = await serve();
    const s = await connect(h.path);
    const reply = readAll(s);
    s.write(`${rpc(1, 'agent.pid')}\n${'z'.repeat(70_000)}\n`);
    const [first, second] = (await reply).split('\n');
    expect(JSON.parse(first!)).toEqual({ jsonrpc: '2.0', id: 1, result: 42 });
    expect(second).toBe('error: control line longer than 65536 bytes');
  });
});

describe('shutdown', () => {
  it('refuses new requests while the agent stops, and keeps the socket file until close()', async () => {
    const h = await serve();
    h.server.refuseNew();
    expect(await halfClose(h.path, 'pid\n')).toBe('error: the agent is shutting down\n');
    expect(JSON.parse(await halfClose(h.path, rpc(1, 'agent.pid'))).error).toMatchObject({ data: { code: 'PXC_ERR_SHUTTING_DOWN' } });
    expect(existsSync(h.path)).toBe(true);
    await h.server.close();
    expect(existsSync(h.path)).toBe(false);
  });
});
