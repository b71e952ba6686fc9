import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DataProxyClient, dataProxyUrl } from '../../../src/deploy/data-proxy/client.js';
import { createParams, idParams, noParams, updateParams } from '../../../src/deploy/data-proxy/params.js';
import { DataStoreCounters } from '../../../src/deploy/data-proxy/request-stats.js';
import { RpcCallError } from '../../../src/net/json-rpc-client.js';

const servers: Server[] = [];
const clients: DataProxyClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

function client(url: string, opts: ConstructorParameters<typeof DataProxyClient>[1] = {}): DataProxyClient {
  const c = new DataProxyClient(url, opts);
  clients.push(c);
  return c;
}

describe('DataProxyClient', () => {
  it('accepts http://host:port and http://host:port/rpc, and refuses other URLs naming --url', () => {
    expect(dataProxyUrl('http://127.0.0.1:7001').href).toBe('http://127.0.0.1:7001/rpc');
    expect(dataProxyUrl('http://127.0.0.1:7001/rpc').href).toBe('http://127.0.0.1:7001/rpc');
    expect(() => dataProxyUrl('127.0.0.1:7001')).toThrow(/--url: .*http:\/\/HOST:PORT|only http/);
    expect(() => dataProxyUrl('https://x:1')).toThrow(expect.objectContaining({ code: 'PXC_ERR_BAD_URL' }));
  });

  it('turns an error reply into RpcCallError with both codes', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32001, message: 'no note with id "x"', data: { code: 'PXC_ERR_UNKNOWN_NOTE' } } }));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const err = await client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).readNote('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect(err).toMatchObject({ rpcCode: -32001, code: 'PXC_ERR_UNKNOWN_NOTE', message: 'no note with id "x"' });
  });

  it('reports a reply that is not JSON-RPC with the HTTP status', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(502);
      res.end('bad gateway');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await expect(client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).listNotes()).rejects.toThrow(/data proxy at 127\.0\.0\.1:\d+ answered ListNotes with HTTP 502 and no JSON-RPC reply: bad gateway/);
  });

  it('gives up after timeoutMs with PXC_ERR_TIMEOUT', async () => {
    const server = createServer(() => undefined);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await expect(client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { timeoutMs: 100 }).ready()).rejects.toMatchObject({ code: 'PXC_ERR_TIMEOUT' });
  });
});

describe('data proxy params', () => {
  it('name the method and the parameter in every refusal', () => {
    expect(() => idParams('ReadNote', undefined)).toThrow('ReadNote: id: required');
    expect(() => idParams('DeleteNote', { id: 1 })).toThrow('DeleteNote: id: must be a string, got number');
    expect(() => createParams({ title: 't', body: 'b', x: 1 })).toThrow('CreateNote: x: unknown parameter (expected title, body)');
    expect(() => createParams('t')).toThrow('CreateNote: params: must be an object of named parameters, got string');
    expect(() => updateParams({ id: 'a' })).toThrow('UpdateNote: title: give title, body or both');
    expect(() => noParams('Ready', { verbose: true })).toThrow('Ready: verbose: unknown parameter (the method takes no parameters)');
  });

  it('accept no params, {} or [] for methods without parameters, and empty strings for title and body', () => {
    expect(() => noParams('ListNotes', undefined)).not.toThrow();
    expect(() => noParams('ListNotes', {})).not.toThrow();
    expect(() => noParams('ListNotes', [])).not.toThrow();
    expect(createParams({ title: '', body: '' })).toEqual({ title: '', body: '' });
    expect(updateParams({ id: 'a', body: '' })).toEqual({ id: 'a', title: undefined, body: '' });
  });
});

describe('DataStoreCounters', () => {
  it('counts ListNotes on every shard and other note calls on one, with rates after a tick', () => {
    const c = new DataStoreCounters(3);
    c.call('ListNotes');
    c.allShards('ListNotes');
    c.call('CreateNote');
    c.shard(2, 'CreateNote');
    c.shard(2, 'CreateNote');
    c.tick();
    const s = c.export(123, '1.2.3');
    expect(Object.keys(s.shards)).toEqual(['shard-0', 'shard-1', 'shard-2']);
    expect(s.shards['shard-1']!.ListNotes).toEqual({ total: 1, rate_1s: 1, rate_10s: 1 });
    expect(s.shards['shard-2']!.CreateNote).toEqual({ total: 2, rate_1s: 2, rate_10s: 2 });
    expect(s.shards['shard-0']!.CreateNote.total).toBe(0);
    expect(s.methods.CreateNote.total).toBe(1);
    expect(Object.keys(s.methods)).toEqual(['Ready', 'ListNotes', 'ReadNote', 'CreateNote', 'UpdateNote', 'DeleteNote', 'ExportShardStats']);
    expect(s).toMatchObject({ pid: 123, version: '1.2.3', max_concurrent_calls: 0 });
  });
});
