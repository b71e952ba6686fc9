import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataProxyClient } from '../../../src/deploy/data-proxy/client.js';
import { RpcCallError } from '../../../src/net/json-rpc-client.js';
import type { Note } from '../../../src/deploy/data-proxy/protocol.js';
import { ProxyctlError } from '../../../src/errors.js';
import { cleanupAgents, runCli, tempDir } from '../../helpers/agent.js';
import { startEchoServer } from '../../helpers/echo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { cleanupDataProxies, closeInProcessDataProxies, rawPost, startDataProxy, startDataProxyInProcess, type InProcessDataProxy } from '../../helpers/data-proxy.js';
import { waitFor } from '../../helpers/wait.js';

const clients: DataProxyClient[] = [];
function client(url: string, opts: ConstructorParameters<typeof DataProxyClient>[1] = {}): DataProxyClient {
  const c = new DataProxyClient(url, opts);
  clients.push(c);
  return c;
}

/** One data proxy for the protocol error tests, which do not care what the store holds. */
let shared: InProcessDataProxy | undefined;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cleanupDataProxies();
  await closeInProcessDataProxies([shared]);
  await closeTestServers();
});

afterAll(async () => {
  shared = undefined;
  await closeInProcessDataProxies();
  await cleanupDataProxies();
  await cleanupAgents();
});

function rpc(method: string, params?: unknown, id: unknown = 1): string {
  return JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
}

async function rpcError(p: Promise<unknown>): Promise<RpcCallError> {
  const err = await p.then(
    () => {
      throw new Error('expected an error reply');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcCallError);
  return err as RpcCallError;
}

describe('data proxy: methods', () => {
  it('answers Ready with its pid, version and layout', async () => {
    const db = join(tempDir(), 'notes');
    const dp = await startDataProxyInProcess({ db, shards: 3 });
    const ready = await client(dp.url).ready();
    expect(ready).toMatchObject({ ready: true, pid: dp.pid, shards: 3, db });
    expect(ready.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('creates, lists, reads, updates and deletes notes', async () => {
    const dp = await startDataProxyInProcess({ db: join(tempDir(), 'notes') });
    const c = client(dp.url);
    expect(await c.listNotes()).toEqual([]);
    const a = await c.createNote('first', 'body a');
    const b = await c.createNote('second', '');
    expect(a).toMatchObject({ title: 'first', body: 'body a' });
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.created_at).toBe(a.updated_at);
    expect(new Date(a.created_at).toISOString()).toBe(a.created_at);
    // Oldest first; two notes of the same millisecond in id order.
    const created = [a, b].sort((x, y) => x.created_at.localeCompare(y.created_at) || (x.id < y.id ? -1 : 1));
    expect((await c.listNotes()).map((n) => n.id)).toEqual(created.map((n) => n.id));
    expect(await c.readNote(b.id)).toEqual(b);

    const titled = await c.updateNote(a.id, { title: 'renamed' });
    expect(titled).toMatchObject({ id: a.id, title: 'renamed', body: 'body a', created_at: a.created_at });
    const bodied = await c.updateNote(a.id, { body: 'new body' });
    expect(bodied).toMatchObject({ title: 'renamed', body: 'new body' });
    expect(bodied.updated_at >= a.updated_at).toBe(true);
    expect(await c.readNote(a.id)).toEqual(bodied);

    expect(await c.deleteNote(a.id)).toEqual({ deleted: true, id: a.id });
    expect((await c.listNotes()).map((n) => n.id)).toEqual([b.id]);
  });

  it('answers a missing note with error -32001 PXC_ERR_UNKNOWN_NOTE for read, update and delete', async () => {
    const dp = await startDataProxyInProcess({ db: join(tempDir(), 'notes') });
    const c = client(dp.url);
    for (const p of [c.readNote('nope'), c.updateNote('nope', { title: 't' }), c.deleteNote('nope')]) {
      const err = await rpcError(p);
      expect(err.rpcCode).toBe(-32001);
      expect(err.code).toBe('PXC_ERR_UNKNOWN_NOTE');
      expect(err.message).toContain('"nope"');
    }
  });

  it('counts calls per method and store accesses per shard in ExportShardStats', async () => {
    const dp = await startDataProxyInProcess({ db: join(tempDir(), 'notes'), shards: 2 });
    const c = client(dp.url);
    const notes: Note[] = [];
    for (let i = 0; i < 6; i++) notes.push(await c.createNote(`n${i}`, 'b'));
    await c.listNotes();
    await c.readNote(notes[0]!.id);
    await rpcError(c.readNote('missing'));
    const stats = await c.exportShardStats();
    expect(stats.pid).toBe(dp.pid);
    expect(Object.keys(stats.shards).sort()).toEqual(['shard-0', 'shard-1']);
    const creates = stats.shards['shard-0']!.CreateNote.total + stats.shards['shard-1']!.CreateNote.total;
    expect(creates).toBe(6);
    expect(stats.shards['shard-0']!.ListNotes.total).toBe(1);
    expect(stats.shards['shard-1']!.ListNotes.total).toBe(1);
    expect(stats.methods.CreateNote.total).toBe(6);
    expect(stats.methods.ReadNote.total).toBe(2);
    expect(stats.methods.ExportShardStats.total).toBe(1);
    expect(stats.max_concurrent_calls).toBe(1);
    // the rates are fed by a one-second tick: once it has run, the creates show up as a rate
    const later = await waitFor('a closed one-second bucket', async () => {
      const s = await c.exportShardStats();
      return s.methods.CreateNote.rate_10s > 0 ? s : undefined;
    });
    expect(later.methods.CreateNote.total).toBe(6);
  });
});

describe('data proxy: protocol errors', () => {
  beforeAll(async () => {
    shared = await startDataProxyInProcess({ db: join(tempDir(), 'notes') });
  });

  it('refuses unknown methods with -32601 naming them', async () => {
    const dp = shared!;
    const r = await rawPost(dp.url, rpc('DropTables', {}, 7));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32601, data: { code: 'PXC_ERR_UNKNOWN_COMMAND' } } });
    expect(r.json!.error!.message).toContain('DropTables');
  });

  it('refuses bad params with -32602 naming the parameter', async () => {
    const dp = shared!;
    const cases: Array<[string, unknown, string]> = [
      ['ReadNote', {}, 'ReadNote: id: required'],
      ['ReadNote', { id: 5 }, 'ReadNote: id: must be a string, got number'],
      ['ReadNote', { id: '' }, 'ReadNote: id: must not be empty'],
      ['CreateNote', { title: 't' }, 'CreateNote: body: required'],
      ['CreateNote', { title: 't', body: 'b', tags: [] }, 'CreateNote: tags: unknown parameter'],
      ['CreateNote', ['t', 'b'], 'CreateNote: params: must be an object'],
      ['UpdateNote', { id: 'x' }, 'UpdateNote: title: give title, body or both'],
      ['UpdateNote', { id: 'x', body: null }, 'UpdateNote: body: must be a string, got null'],
      ['ListNotes', { all: true }, 'ListNotes: all: unknown parameter (the method takes no parameters)'],
    ];
    for (const [method, params, message] of cases) {
      const r = await rawPost(dp.url, rpc(method, params));
      expect(r.json?.error, `${method} ${JSON.stringify(params)}`).toMatchObject({ code: -32602, data: { code: 'PXC_ERR_BAD_PARAMS' } });
      expect(r.json!.error!.message).toContain(message);
    }
  });

  it('answers a body that is not JSON with -32700 and a non-request with -32600', async () => {
    const dp = shared!;
    expect((await rawPost(dp.url, '{"jsonrpc":')).json?.error?.code).toBe(-32700);
    expect((await rawPost(dp.url, JSON.stringify({ id: 1, method: 'Ready' }))).json?.error).toMatchObject({ code: -32600, message: 'jsonrpc: must be "2.0"' });
    expect((await rawPost(dp.url, JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'Ready' }]))).json?.error?.message).toContain('batch requests are not supported');
    expect((await rawPost(dp.url, '42')).json?.error?.code).toBe(-32600);
  });

  it('serves only POST /rpc', async () => {
    const dp = shared!;
    const get = await rawPost(dp.url, '', { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await rawPost(dp.url, rpc('Ready'), { path: '/' })).status).toBe(404);
  });

  it('answers a notification (no id) with 204 and no body, after running it', async () => {
    const dp = shared!;
    const r = await rawPost(dp.url, JSON.stringify({ jsonrpc: '2.0', method: 'CreateNote', params: { title: 'quiet', body: '' } }));
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect((await client(dp.url).listNotes()).map((n) => n.title)).toContain('quiet');
  });

  it('refuses a body over 1 MiB with 413, declared or chunked, and keeps serving', async () => {
    const dp = shared!;
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'CreateNote', params: { title: 'big', body: 'x'.repeat(1024 * 1024) } });
    const declared = await rawPost(dp.url, big);
    expect(declared.status).toBe(413);
    expect(declared.headers.connection).toBe('close');
    expect(declared.json?.error).toMatchObject({ code: -32600, data: { code: 'PXC_ERR_BODY_TOO_LARGE' } });
    const chunked = await rawPost(dp.url, big, { headers: { 'Transfer-Encoding': 'chunked' } });
    expect(chunked.status).toBe(413);
    const expect100 = await rawPost(dp.url, big, { headers: { Expect: '100-continue' } });
    expect(expect100.status).toBe(413);
    // just under the limit is fine
    const fits = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'CreateNote', params: { title: 'fits', body: 'x'.repeat(1024 * 1024 - 200) } });
    expect((await rawPost(dp.url, fits)).json?.result).toMatchObject({ title: 'fits' });
    const titles = (await client(dp.url).listNotes()).map((n) => n.title);
    expect(titles).toContain('fits');
    expect(titles).not.toContain('big');
  });
});

describe('data proxy: processes', () => {
  it('lets two processes on one --db see each other’s notes', async () => {
    const db = join(tempDir(), 'notes');
    const [one, two] = await Promise.all([startDataProxy({ db }), startDataProxy({ db })]);
    const c1 = client(one!.url);
    const c2 = client(two!.url);
    const a = await c1.createNote('from one', 'a');
    const b = await c2.createNote('from two', 'b');
    expect((await c2.listNotes()).map((n) => n.id).sort()).toEqual([a.id, b.id].sort());
    await c2.updateNote(a.id, { body: 'edited by two' });
    expect((await c1.readNote(a.id)).body).toBe('edited by two');
    await c1.deleteNote(b.id);
    expect((await c2.listNotes()).map((n) => n.id)).toEqual([a.id]);
  });

  it('refuses to start on a --db made with another --shards count', async () => {
    const db = join(tempDir(), 'notes');
    const dp = await startDataProxy({ db, shards: 4 });
    await dp.stop();
    const r = await runCli(['data-proxy', '--port', '0', '--db', db, '--shards', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PXC_ERR_SHARD_LAYOUT');
    expect(r.stderr).toContain('--shards 4');
  });

  it('takes the port from $PORT when --port is absent', async () => {
    // A port held by a server of this test: the data proxy must try exactly that one (and say it is taken).
    const busy = await startEchoServer();
    const refused = await runCli(['data-proxy', '--db', join(tempDir(), 'notes')], { env: { PORT: String(busy.port) } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`127.0.0.1:${busy.port} is already in use`);
    // $PORT=0: the kernel's choice, read back from the start line.
    const dp = await startDataProxy({ db: join(tempDir(), 'notes'), port: null, env: { PORT: '0' } });
    expect(dp.port).toBeGreaterThan(0);
    expect((await client(dp.url).ready()).ready).toBe(true);
  });

  it('executes concurrent calls one at a time, and answers them all', async () => {
    const dp = await startDataProxy({ db: join(tempDir(), 'notes'), callDelayMs: 20 });
    const c = client(dp.url);
    const created = await Promise.all(Array.from({ length: 24 }, (_, i) => c.createNote(`n${i}`, 'b')));
    expect(new Set(created.map((n) => n.id)).size).toBe(24);
    const stats = await c.exportShardStats();
    expect(stats.max_concurrent_calls).toBe(1);
    expect(stats.methods.CreateNote.total).toBe(24);
    expect((await c.listNotes()).length).toBe(24);
  });
});

describe('data proxy: SIGTERM', () => {
  it('answers the calls already received with Connection: close, then exits 0', async () => {
    const db = join(tempDir(), 'notes');
    const dp = await startDataProxy({ db, callDelayMs: 150 });
    const agent = new Agent({ keepAlive: true });
    try {
      const post = (i: number) =>
        new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
          const body = rpc('CreateNote', { title: `t${i}`, body: '' }, i);
          const req = request(`${dp.url}/rpc`, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c: string) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const calls = [1, 2, 3].map(post);
      const first = await calls[0]!;
      expect(first.connection).toBe('keep-alive');
      // calls 2 and 3 sat in the queue behind call 1: they are in flight now
      dp.process.kill('SIGTERM');
      // call 1's connection is idle now: a call on it right after SIGTERM is still answered
      const late = await post(4);
      expect(late.status).toBe(200);
      const rest = await Promise.all(calls.slice(1));
      for (const r of rest) {
        expect(r.status).toBe(200);
        expect(r.connection).toBe('close');
        expect(JSON.parse(r.body)).toHaveProperty('result.title');
      }
      expect(await dp.exited).toBe(0);
      expect(dp.stdout()).toMatch(/stopped on SIGTERM/);
      expect(dp.stdout().trim().split('\n')).toHaveLength(2);
    } finally {
      agent.destroy();
    }
    const after = await startDataProxy({ db });
    expect((await client(after.url).listNotes()).map((n) => n.title).sort()).toEqual(['t1', 't2', 't3', 't4']);
  });

  it('retires an instance under a busy keep-alive client with no failed call, no retry, and no lost or doubled write', async () => {
    const db = join(tempDir(), 'notes');
    const [old, next] = await Promise.all([startDataProxy({ db, callDelayMs: 5 }), startDataProxy({ db })]);
    // Like a client behind the app port: keep-alive to the old instance; a refused
    // connection (nothing sent) goes to the next one, as the app proxy would.
    // No retry on reset: the old instance must never cut a connection under a call.
    const toOld = client(old!.url, { retryOnReset: 'never' });
    const toNext = client(next!.url);
    let created = 0;
    let servedByNext = 0;
    const failures: unknown[] = [];
    let stop = false;
    const loop = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const write = i % 2 === 0;
        const call = (c: DataProxyClient) => (write ? c.createNote(`w${w}-${i}`, '') : c.listNotes());
        try {
          try {
            await call(toOld);
          } catch (err) {
            if (!(err instanceof ProxyctlError && err.code === 'PXC_ERR_DATA_PROXY_UNREACHABLE' && (err.cause as NodeJS.ErrnoException)?.code === 'ECONNREFUSED')) throw err;
            await call(toNext);
            servedByNext++;
          }
          if (write) created++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    await waitFor('the old instance to serve some calls', () => created >= 40);
    old!.process.kill('SIGTERM');
    expect(await old!.exited).toBe(0);
    await waitFor('the next instance to take over', () => servedByNext >= 40);
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect((await toNext.listNotes()).length).toBe(created);
  });
});
