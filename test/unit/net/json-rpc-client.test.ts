import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonRpcClient, RpcCallError, type JsonRpcClientOptions } from '../../../src/net/json-rpc-client.js';

/** A method table as a server would declare it: the client's calls are checked against it at build time. */
interface EchoMethods {
  Echo: { params: { text: string }; result: { text: string; connection: number } };
  Fail: { params: Record<string, never>; result: never };
  Write: { params: { n: number }; result: number };
}

const servers: Server[] = [];
const clients: Array<JsonRpcClient<EchoMethods>> = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

interface Served {
  url: URL;
  /** Methods answered, in order. */
  calls: string[];
  /** Connections accepted. */
  connections: () => number;
}

/**
 * A real HTTP server on port 0 answering JSON-RPC: Echo (with the number of the
 * connection it came on), Fail (an error reply with a PXC code) and Write.
 * `handle` may take over a request (answer otherwise, or not at all).
 */
async function serve(handle?: (req: IncomingMessage, res: ServerResponse, msg: { id: number; method: string }, nth: number) => boolean): Promise<Served> {
  const calls: string[] = [];
  const ids = new WeakMap<Socket, number>();
  let connections = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: number; method: string; params: { text?: string; n?: number } };
      if (handle?.(req, res, msg, ++requests)) return;
      calls.push(msg.method);
      res.setHeader('content-type', 'application/json');
      if (msg.method === 'Fail') return res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32001, message: 'no note with id "x"', data: { code: 'PXC_ERR_UNKNOWN_NOTE' } } }));
      const result = msg.method === 'Echo' ? { text: msg.params.text, connection: ids.get(req.socket) } : msg.params.n;
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    });
  });
  server.on('connection', (s: Socket) => ids.set(s, ++connections));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`), calls, connections: () => connections };
}

function client(opts: JsonRpcClientOptions = {}): JsonRpcClient<EchoMethods> {
  const c = new JsonRpcClient<EchoMethods>({ label: 'test server', ...opts });
  clients.push(c);
  return c;
}

describe('the JSON-RPC client', () => {
  it('returns the typed result and keeps one connection alive across calls', async () => {
    const s = await serve();
    const c = client({ connections: 1 });
    const a = await c.call(s.url, 'Echo', { text: 'one' });
    const b = await c.call(s.url, 'Echo', { text: 'two' });
    expect([a, b]).toEqual([{ text: 'one', connection: 1 }, { text: 'two', connection: 1 }]);
    expect(await c.call(s.url, 'Write', { n: 7 })).toBe(7);
    expect(s.connections()).toBe(1);
  });

  it('opens a connection per call with keepAlive false', async () => {
    const s = await serve();
    const c = client({ keepAlive: false });
    await c.call(s.url, 'Echo', { text: 'one' });
    expect(await c.call(s.url, 'Echo', { text: 'two' })).toEqual({ text: 'two', connection: 2 });
  });

  it('turns an error reply into RpcCallError with the server\'s code, its PXC code and its message', async () => {
    const s = await serve();
    const err = await client().call(s.url, 'Fail', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect(err).toMatchObject({ rpcCode: -32001, code: 'PXC_ERR_UNKNOWN_NOTE', method: 'Fail', message: 'no note with id "x"' });
  });

  it('gives an error reply without a PXC code PXC_ERR_INSTANCE_RPC', async () => {
    const s = await serve((_req, res, msg) => {
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'method not found' } }));
      return true;
    });
    await expect(client().call(s.url, 'Echo', { text: '' })).rejects.toMatchObject({ name: 'RpcCallError', rpcCode: -32601, code: 'PXC_ERR_INSTANCE_RPC' });
  });

  it('names the HTTP status of a reply that is not JSON-RPC', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(502).end('bad gateway');
      return true;
    });
    await expect(client().call(s.url, 'Echo', { text: '' })).rejects.toMatchObject({
      code: 'PXC_ERR_DATA_PROXY_UNREACHABLE',
      message: `the test server at ${s.url.host} answered Echo with HTTP 502 and no JSON-RPC reply: bad gateway`,
    });
  });

  it('names the server, the method and the refusal when nothing listens', async () => {
    const s = await serve();
    await new Promise((r) => servers.pop()!.close(r));
    const err = await client().call(s.url, 'Echo', { text: '' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PXC_ERR_DATA_PROXY_UNREACHABLE', message: `cannot reach the test server at ${s.url.host} for Echo (ECONNREFUSED)`, cause: { code: 'ECONNREFUSED' } });
  });

  it('gives up on a server that never answers with PXC_ERR_TIMEOUT at the deadline', async () => {
    const s = await serve(() => true);
    const c = client({ timeoutMs: 5000 });
    const started = performance.now();
    await expect(c.call(s.url, 'Echo', { text: '' }, { timeoutMs: 150 })).rejects.toMatchObject({ code: 'PXC_ERR_TIMEOUT', message: `the test server at ${s.url.host} did not answer Echo within 0.15 s` });
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('rejects with the caller\'s reason when its signal aborts a call', async () => {
    let arrived!: () => void;
    const hanging = new Promise<void>((r) => (arrived = r));
    const s = await serve(() => (arrived(), true));
    const ac = new AbortController();
    const call = client().call(s.url, 'Echo', { text: '' }, { signal: ac.signal });
    await hanging;
    ac.abort(new Error('shutting down'));
    await expect(call).rejects.toThrow('shutting down');
  });

  describe('a kept-alive connection reset before any answer', () => {
    /** The second request on a connection has its socket destroyed unanswered, once. */
    const resetSecondOnConnection = () => {
      let done = false;
      const served = new WeakSet<Socket>();
      return (req: IncomingMessage) => {
        if (served.has(req.socket) && !done) {
          done = true;
          req.socket.destroy();
          return true;
        }
        served.add(req.socket);
        return false;
      };
    };

    it('fails the call by default, and the server saw the call on the same connection', async () => {
      const s = await serve(resetSecondOnConnection());
      const c = client({ connections: 1 });
      await c.call(s.url, 'Echo', { text: 'one' });
      await expect(c.call(s.url, 'Echo', { text: 'two' })).rejects.toMatchObject({ code: 'PXC_ERR_DATA_PROXY_UNREACHABLE', message: expect.stringMatching(/for Echo \(other side closed\)/) });
      expect(s.calls).toEqual(['Echo']);
    });

    it('is retried once on a fresh connection for an idempotent method', async () => {
      const s = await serve(resetSecondOnConnection());
      const c = client({ connections: 1, retryOnReset: 'idempotent', idempotent: new Set(['Echo']) });
      await c.call(s.url, 'Echo', { text: 'one' });
      expect(await c.call(s.url, 'Echo', { text: 'two' })).toEqual({ text: 'two', connection: 2 });
      expect(s.calls).toEqual(['Echo', 'Echo']);
    });

    it('is not retried for a write unless told "always"', async () => {
      const first = await serve(resetSecondOnConnection());
      const c1 = client({ connections: 1, retryOnReset: 'idempotent', idempotent: new Set(['Echo']) });
      await c1.call(first.url, 'Echo', { text: 'one' });
      await expect(c1.call(first.url, 'Write', { n: 1 })).rejects.toMatchObject({ code: 'PXC_ERR_DATA_PROXY_UNREACHABLE' });
      expect(first.calls).toEqual(['Echo']);

      const second = await serve(resetSecondOnConnection());
      const c2 = client({ connections: 1, retryOnReset: 'always' });
      await c2.call(second.url, 'Echo', { text: 'one' });
      expect(await c2.call(second.url, 'Write', { n: 2 })).toBe(2);
      expect(second.calls).toEqual(['Echo', 'Write']);
    });
  });
});
