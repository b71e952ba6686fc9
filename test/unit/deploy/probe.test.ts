import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InstanceClient } from '../../../src/deploy/probe.js';
import { RpcCallError } from '../../../src/net/json-rpc-client.js';
import { freePort } from '../../helpers/echo-server.js';

let server: Server | undefined;
const client = new InstanceClient();
afterAll(() => client.close());

afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('readiness probes', () => {
  it('tcp: ready when a connect succeeds, the refusal named otherwise', async () => {
    const port = await serve((_, res) => res.end());
    expect(await client.probe({ kind: 'tcp', path: '/rpc' }, '127.0.0.1', port, 1000)).toBe(true);
    const closed = await freePort();
    expect(await client.probe({ kind: 'tcp', path: '/rpc' }, '127.0.0.1', closed, 1000)).toMatch(/ECONNREFUSED/);
  });

  it('http: ready on 2xx for the path, the status named otherwise', async () => {
    const port = await serve((req, res) => {
      res.statusCode = req.url === '/health' ? 204 : 503;
      res.end();
    });
    expect(await client.probe({ kind: 'http', path: '/health' }, '127.0.0.1', port, 1000)).toBe(true);
    expect(await client.probe({ kind: 'http', path: '/other' }, '127.0.0.1', port, 1000)).toBe('GET /other answered 503');
  });

  it('jsonrpc: ready only when Ready answers {"ready": true}', async () => {
    let ready = false;
    const port = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const msg = JSON.parse(body) as { id: number; method: string };
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: msg.method === 'Ready' ? { ready } : null }));
      });
    });
    expect(await client.probe({ kind: 'jsonrpc', path: '/rpc' }, '127.0.0.1', port, 1000)).toBe('Ready answered {"ready":false}');
    ready = true;
    expect(await client.probe({ kind: 'jsonrpc', path: '/rpc' }, '127.0.0.1', port, 1000)).toBe(true);
  });

  it('a JSON-RPC error reply carries its code; a non-JSON reply is named', async () => {
    const port = await serve((req, res) => {
      if (req.url === '/text') return res.end('hello');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'method not found' } }));
    });
    const err = await client.call('127.0.0.1', port, '/rpc', 'ExportShardStats', {}, { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect(err).toMatchObject({ rpcCode: -32601, code: 'PXC_ERR_INSTANCE_RPC', message: 'method not found' });
    expect(await client.probe({ kind: 'jsonrpc', path: '/rpc' }, '127.0.0.1', port, 1000)).toBe('Ready answered error -32601: method not found');
    await expect(client.call('127.0.0.1', port, '/text', 'Ready', {}, { timeoutMs: 1000 })).rejects.toThrow(`the instance at 127.0.0.1:${port} answered Ready with HTTP 200 and no JSON-RPC reply: hello`);
  });

  it('a probe that gets no answer in time says so', async () => {
    const port = await serve(() => undefined);
    expect(await client.probe({ kind: 'http', path: '/' }, '127.0.0.1', port, 200)).toMatch(/timeout|aborted/i);
  });
});
