import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProxyctlError, type ErrorCode } from '../../errors.js';
import { RPC_INTERNAL_ERROR, RPC_INVALID_PARAMS, RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_PARSE_ERROR, type RpcId } from '../../control/jsonrpc.js';
import { DataStoreCounters } from './request-stats.js';
import { ShardedNoteStore } from './note-store.js';
import { createParams, idParams, noParams, updateParams } from './params.js';
import { DATA_PROXY_METHODS, DATA_PROXY_PATH, MAX_BODY_BYTES, RPC_NOTE_NOT_FOUND, type DataProxyMethod } from './protocol.js';
import { SerialQueue } from './serial-queue.js';

export interface DataProxyOptions {
  host: string;
  /** 0 picks a free port; `address()` tells which. */
  port: number;
  /** Directory of the shard files. */
  dbDir: string;
  shards: number;
  version: string;
  /** Test hook: each note method sleeps this long while holding the lock. */
  callDelayMs?: number;
  /** How long close() lets idle keep-alive connections send one more call (answered with `Connection: close`) before cutting them (default IDLE_GRACE_MS). */
  idleGraceMs?: number;
  /** How long close() waits for calls in flight before cutting connections (default 10 s). */
  drainTimeoutMs?: number;
  /** Unexpected failures (internal errors) go here, one line each. */
  onInternalError?: (err: unknown) => void;
}

class RpcError extends Error {
  constructor(
    readonly rpcCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function rpcErrorFor(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof ProxyctlError) {
    switch (err.code) {
      case 'PXC_ERR_BAD_PARAMS':
        return new RpcError(RPC_INVALID_PARAMS, err.code, err.message);
      case 'PXC_ERR_UNKNOWN_NOTE':
        return new RpcError(RPC_NOTE_NOT_FOUND, err.code, err.message);
      default:
        return new RpcError(RPC_INTERNAL_ERROR, err.code, err.message);
    }
  }
  return new RpcError(RPC_INTERNAL_ERROR, 'PXC_ERR_INTERNAL', err instanceof Error ? err.message : String(err));
}

/** See close(): how long an idle keep-alive connection may still bring one call after SIGTERM. */
export const IDLE_GRACE_MS = 1000;

/** How much of a refused body is read and dropped before the connection is cut. */
const LINGER_BYTES = 64 * MAX_BODY_BYTES;

const KNOWN_METHODS: ReadonlySet<string> = new Set(DATA_PROXY_METHODS);

/**
 * The NoteStore data proxy: JSON-RPC 2.0 over HTTP `POST /rpc` (see
 * protocol.ts for the contract). Every call runs through one SerialQueue, so
 * calls execute one at a time in arrival order. `close()` is the SIGTERM path:
 * stop accepting, answer every call already received (with `Connection:
 * close`), close idle keep-alive connections (after a grace of IDLE_GRACE_MS,
 * see #close), then close the shard files.
 */
export class DataProxyServer {
  readonly #opts: DataProxyOptions;
  readonly #store: ShardedNoteStore;
  readonly #queue = new SerialQueue();
  readonly #stats: DataStoreCounters;
  readonly #server: Server;
  readonly #ticker: NodeJS.Timeout;
  #running = 0;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(opts: DataProxyOptions) {
    this.#opts = opts;
    this.#store = new ShardedNoteStore(opts.dbDir, opts.shards);
    this.#stats = new DataStoreCounters(opts.shards);
    this.#server = createServer((req, res) => this.#onRequest(req, res));
    // `Expect: 100-continue` with a declared body over the limit: refuse before the body is sent.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return this.#tooLarge(res);
      res.writeContinue();
      this.#onRequest(req, res);
    });
    this.#ticker = setInterval(() => this.#stats.tick(), 1000).unref();
  }

  /** Listens; rejects with PXC_ERR_PORT_IN_USE when the port is taken. */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new ProxyctlError('PXC_ERR_PORT_IN_USE', `${this.#opts.host}:${this.#opts.port} is already in use`, { cause: err }) : err);
      };
      this.#server.once('error', onError);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Graceful stop (idempotent): see the class comment. Resolves once the shard files are closed. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    // Stop accepting with net.Server's close, not http.Server's: since Node 19
    // that one also cuts idle keep-alive connections at once, and a busy
    // client's connection is idle for a moment between any two calls, so its
    // next call would meet a reset. Instead every call answered from now on
    // carries `Connection: close` (the client moves to a new connection
    // cleanly), and only connections still idle after IDLE_GRACE_MS are cut.
    // The callback runs once the last connection has closed.
    const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(this.#server, () => resolve()));
    const idle = setTimeout(() => this.#server.closeIdleConnections(), this.#opts.idleGraceMs ?? IDLE_GRACE_MS).unref();
    const deadline = setTimeout(() => this.#server.closeAllConnections(), this.#opts.drainTimeoutMs ?? 10_000).unref();
    await drained;
    clearTimeout(idle);
    clearTimeout(deadline);
    await this.#queue.idle();
    clearInterval(this.#ticker);
    this.#store.close();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (req.url !== DATA_PROXY_PATH) return this.#reply(res, 404, errorBody(null, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', `no such path ${req.url}; JSON-RPC is served on POST ${DATA_PROXY_PATH}`));
    if (req.method !== 'POST') return this.#reply(res, 405, errorBody(null, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', `method ${req.method} not allowed; use POST`), { Allow: 'POST' });
    // Over the limit (declared or counted): the rest of the body is read and
    // dropped, never stored, and 413 goes out once it has all arrived, so the
    // client reads the answer instead of a reset. Past LINGER_BYTES, cut.
    let refused = Number(req.headers['content-length']) > MAX_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > LINGER_BYTES) req.socket.destroy();
        return;
      }
      if (size > MAX_BODY_BYTES) {
        refused = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return this.#tooLarge(res);
      void this.#handle(Buffer.concat(chunks, size).toString('utf8')).then((body) => {
        if (body === null) this.#reply(res, 204, null);
        else this.#reply(res, 200, body);
      });
    });
  }

  #tooLarge(res: ServerResponse): void {
    this.#reply(res, 413, errorBody(null, RPC_INVALID_REQUEST, 'PXC_ERR_BODY_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes refused`), { Connection: 'close' });
  }

  #reply(res: ServerResponse, status: number, body: string | null, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const h: Record<string, string | number> = { ...headers };
    if (body !== null) {
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = Buffer.byteLength(body);
    }
    if (this.#closing) h['Connection'] = 'close';
    res.writeHead(status, h);
    res.end(body ?? undefined);
  }

  /** One request body → the JSON reply, or null for a notification. */
  async #handle(text: string): Promise<string | null> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      return errorBody(null, RPC_PARSE_ERROR, 'PXC_ERR_BAD_PARAMS', `request body is not JSON: ${(err as Error).message}`);
    }
    if (Array.isArray(msg)) return errorBody(null, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', 'batch requests are not supported; send one call per request');
    if (typeof msg !== 'object' || msg === null) return errorBody(null, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', 'request must be a JSON-RPC 2.0 object');
    const { jsonrpc, id, method, params } = msg as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    const validId = id === undefined || id === null || typeof id === 'string' || typeof id === 'number';
    const replyId: RpcId = validId && id !== undefined ? (id as RpcId) : null;
    if (jsonrpc !== '2.0') return errorBody(replyId, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', 'jsonrpc: must be "2.0"');
    if (!validId) return errorBody(null, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', 'id: must be a string, a number or null');
    if (typeof method !== 'string') return errorBody(replyId, RPC_INVALID_REQUEST, 'PXC_ERR_BAD_PARAMS', 'method: must be a string');
    if (!KNOWN_METHODS.has(method)) {
      return errorBody(replyId, RPC_METHOD_NOT_FOUND, 'PXC_ERR_UNKNOWN_COMMAND', `unknown method "${method}" (methods: ${DATA_PROXY_METHODS.join(', ')})`);
    }
    let body: string;
    try {
      const result = await this.#queue.run(() => this.#call(method as DataProxyMethod, params));
      body = JSON.stringify({ jsonrpc: '2.0', id: replyId, result });
    } catch (err) {
      const e = rpcErrorFor(err);
      if (e.rpcCode === RPC_INTERNAL_ERROR) this.#opts.onInternalError?.(err);
      body = errorBody(replyId, e.rpcCode, e.code, e.message);
    }
    return id === undefined ? null : body;
  }

  /** Runs inside the queue: never more than one at a time. */
  async #call(method: DataProxyMethod, params: unknown): Promise<unknown> {
    this.#running++;
    if (this.#running > this.#stats.maxConcurrent) this.#stats.maxConcurrent = this.#running;
    try {
      this.#stats.call(method);
      const store = this.#store;
      const delay = this.#opts.callDelayMs;
      switch (method) {
        case 'Ready':
          noParams(method, params);
          return { ready: true, pid: process.pid, version: this.#opts.version, shards: store.shardCount, db: store.dir };
        case 'ExportShardStats':
          noParams(method, params);
          return this.#stats.export(process.pid, this.#opts.version);
        case 'ListNotes':
          noParams(method, params);
          if (delay) await sleep(delay);
          this.#stats.allShards(method);
          return store.list();
        case 'ReadNote': {
          const { id } = idParams(method, params);
          if (delay) await sleep(delay);
          this.#stats.shard(store.shardOf(id), method);
          return store.read(id);
        }
        case 'CreateNote': {
          const { title, body } = createParams(params);
          if (delay) await sleep(delay);
          const note = store.create(title, body);
          this.#stats.shard(store.shardOf(note.id), method);
          return note;
        }
        case 'UpdateNote': {
          const { id, title, body } = updateParams(params);
          if (delay) await sleep(delay);
          this.#stats.shard(store.shardOf(id), method);
          return store.update(id, { title, body });
        }
        case 'DeleteNote': {
          const { id } = idParams(method, params);
          if (delay) await sleep(delay);
          this.#stats.shard(store.shardOf(id), method);
          store.delete(id);
          return { deleted: true, id };
        }
      }
    } finally {
      this.#running--;
    }
  }
}

function errorBody(id: RpcId, rpcCode: number, code: ErrorCode, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code: rpcCode, message, data: { code } } });
}
