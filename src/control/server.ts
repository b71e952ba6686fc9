import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Logger } from 'pino';
import { ProxyctlError, toErrorPayload, type ErrorPayload } from '../errors.js';
import { MAX_SOCKET_PATH_BYTES } from '../config/paths.js';
import type { StatsRegistry } from '../stats/registry.js';
import { rpcCodeFor, RPC_INVALID_REQUEST, RPC_PARSE_ERROR, type RpcId, type RpcResponse } from './jsonrpc.js';
import type { CommandRegistry, Dialect } from './registry.js';

export interface ControlServerOptions {
  path: string;
  /** Octal file mode, e.g. 0o600. */
  mode: number;
  group: string | null;
  maxLine: number;
  idleTimeoutMs: number;
}

const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The control socket: one Unix stream socket, two dialects chosen by the first
 * byte of each line. A line starting with `{` is a JSON-RPC 2.0 request and the
 * connection stays open; anything else is a talk line, answered in plain text,
 * after which the connection is closed (as cvmfs_talk).
 */
export class ControlServer {
  readonly #registry: CommandRegistry;
  readonly #logger: Logger;
  readonly #opts: ControlServerOptions;
  readonly #clients = new Set<Socket>();
  #server: Server | undefined;
  /** Requests wait here until the agent has started every subsystem (see `open()`). */
  #opened!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#opened = resolve));

  readonly #connections;
  readonly #active;
  readonly #requests;
  readonly #errors;
  readonly #rate;

  constructor(registry: CommandRegistry, stats: StatsRegistry, logger: Logger, opts: ControlServerOptions) {
    this.#registry = registry;
    this.#logger = logger;
    this.#opts = opts;
    const s = stats.scope('control');
    this.#connections = s.counter('connections', 'control connections accepted');
    this.#active = s.gauge('active_connections', 'control connections open now', () => this.#clients.size);
    this.#requests = { talk: s.scope('requests').counter('talk', 'talk requests'), jsonrpc: s.scope('requests').counter('jsonrpc', 'JSON-RPC requests') };
    this.#errors = s.counter('errors', 'control requests answered with an error');
    this.#rate = s.rate('request_rate', 'control requests per second');
  }

  get path(): string {
    return this.#opts.path;
  }

  async listen(): Promise<void> {
    const { path } = this.#opts;
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      throw new ProxyctlError('PXC_ERR_SOCKET_PATH', `socket path is ${Buffer.byteLength(path)} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of Unix sockets: ${path} (use --socket or a shorter --state-dir)`);
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    await this.#clearStaleSocket(path);

    const server = createServer({ allowHalfOpen: false }, (socket) => this.#onConnection(socket));
    // The umask makes the socket file come into being with the right mode: no window where it is wider.
    const wanted = this.#opts.mode;
    const oldMask = process.umask(0o777 & ~wanted);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new ProxyctlError('PXC_ERR_SOCKET_PATH', `cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(path, wanted);
    if (this.#opts.group !== null) chownSync(path, -1, resolveGid(this.#opts.group));
    server.on('error', (err) => this.#logger.error({ err }, 'control socket error'));
    this.#server = server;
  }

  async #clearStaleSocket(path: string): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    if (!isSocket) throw new ProxyctlError('PXC_ERR_SOCKET_PATH', `${path} exists and is not a socket; refusing to replace it`);
    const live = await new Promise<boolean>((resolve) => {
      const probe = createConnection(path);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (live) throw new ProxyctlError('PXC_ERR_SOCKET_IN_USE', `another agent is already running on ${path} (stop it with 'proxyctl agent stop', or use --socket)`);
    unlinkSync(path);
    this.#logger.info({ path }, 'removed stale control socket');
  }

  #onConnection(socket: Socket): void {
    this.#connections.inc();
    this.#clients.add(socket);
    socket.setTimeout(this.#opts.idleTimeoutMs, () => socket.destroy());
    socket.on('close', () => this.#clients.delete(socket));
    socket.on('error', () => socket.destroy());

    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let talkDone = false;

    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start);
        if (nl === -1) break;
        const piece = chunk.subarray(start, nl);
        const line = pendingBytes ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
        if (talkDone) return;
        if (line.length > this.#opts.maxLine) return this.#tooLong(socket, line[0]);
        if (this.#onLine(socket, line) === 'talk') talkDone = true;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > this.#opts.maxLine) {
          const first = pending[0]![0];
          pending = [];
          pendingBytes = 0;
          this.#tooLong(socket, first);
        }
      }
    });
  }

  #tooLong(socket: Socket, firstByte: number | undefined): void {
    const err = new ProxyctlError('PXC_ERR_LINE_TOO_LONG', `control line longer than ${this.#opts.maxLine} bytes`);
    this.#errors.inc();
    socket.removeAllListeners('data');
    finish(socket, firstByte === 0x7b ? JSON.stringify(rpcError(null, toErrorPayload(err))) + '\n' : `error: ${err.message}\n`);
  }

  /** Handles one complete line; returns the dialect it was. */
  #onLine(socket: Socket, raw: Buffer): Dialect {
    const dialect: Dialect = raw[0] === 0x7b ? 'jsonrpc' : 'talk';
    this.#requests[dialect].inc();
    this.#rate.mark();
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      const err = new ProxyctlError('PXC_ERR_BAD_ENCODING', 'control line is not valid UTF-8');
      this.#errors.inc();
      if (dialect === 'jsonrpc') this.#write(socket, rpcError(null, toErrorPayload(err)));
      else finish(socket, `error: ${err.message}\n`);
      return dialect;
    }
    // Bound before the subsystems start (so a second agent is refused early), but
    // nothing is dispatched until they have: no half-started answers.
    if (dialect === 'jsonrpc') void this.#ready.then(() => this.#onRpc(socket, text));
    else void this.#ready.then(() => this.#onTalk(socket, text.replace(/\r$/, '')));
    return dialect;
  }

  async #onTalk(socket: Socket, line: string): Promise<void> {
    let reply: string;
    try {
      if (line.trim() === '') throw new ProxyctlError('PXC_ERR_UNKNOWN_COMMAND', "empty command; try 'help'");
      const match = this.#registry.matchTalk(line);
      if (!match) throw new ProxyctlError('PXC_ERR_UNKNOWN_COMMAND', this.#registry.unknownTalk(line));
      const params = this.#registry.talkParams(match.command, match.args, match.rest);
      const result = await this.#registry.invoke(match.command, params, { dialect: 'talk' });
      reply = this.#registry.renderText(match.command, result);
    } catch (err) {
      this.#errors.inc();
      reply = `error: ${this.#explain(err).message}`;
    }
    finish(socket, reply.endsWith('\n') ? reply : reply + '\n');
  }

  async #onRpc(socket: Socket, line: string): Promise<void> {
    let id: RpcId = null;
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch (err) {
      this.#errors.inc();
      return this.#write(socket, { jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: `parse error: ${(err as Error).message}` } });
    }
    const r = request as Record<string, unknown>;
    if (typeof r.id === 'string' || typeof r.id === 'number') id = r.id;
    const isNotification = !('id' in r);
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || (r.params !== undefined && (typeof r.params !== 'object' || r.params === null))) {
      this.#errors.inc();
      return this.#write(socket, { jsonrpc: '2.0', id, error: { code: RPC_INVALID_REQUEST, message: 'invalid request: expected {"jsonrpc":"2.0","method":string,"params"?:object,"id"?}' } });
    }
    let response: RpcResponse;
    try {
      const command = this.#registry.byMethod(r.method);
      if (!command) throw new ProxyctlError('PXC_ERR_UNKNOWN_COMMAND', `method not found: ${r.method}`);
      const result = await this.#registry.invoke(command, r.params, { dialect: 'jsonrpc' });
      response = { jsonrpc: '2.0', id, result: result ?? null };
    } catch (err) {
      this.#errors.inc();
      response = rpcError(id, this.#explain(err));
    }
    if (!isNotification) this.#write(socket, response);
  }

  #explain(err: unknown): ErrorPayload {
    const payload = toErrorPayload(err);
    if (payload.code === 'PXC_ERR_INTERNAL') this.#logger.error({ err }, 'control command failed');
    return payload;
  }

  #write(socket: Socket, response: RpcResponse): void {
    if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(response) + '\n');
  }

  /** Starts answering requests; until then they wait (the agent is still starting its subsystems). */
  open(): void {
    this.#opened();
  }

  /** Stops accepting, closes every client and removes the socket file. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.#clients) c.end();
    // Give clients a moment to read their last reply, then cut them.
    const cut = setTimeout(() => {
      for (const c of this.#clients) c.destroy();
    }, 200);
    await closed;
    clearTimeout(cut);
    try {
      unlinkSync(this.#opts.path);
    } catch {
      // already gone: server.close() unlinks on some platforms
    }
  }
}

/**
 * The last reply on a connection: once it is flushed the connection is closed
 * outright, so a client that never half-closes (or is still sending a huge
 * line) does not hold it until the idle timeout. A Unix socket peer still
 * reads what was written before the close.
 */
function finish(socket: Socket, reply: string): void {
  if (socket.destroyed) return;
  socket.end(reply, () => socket.destroy());
}

function rpcError(id: RpcId, payload: ErrorPayload): RpcResponse {
  return { jsonrpc: '2.0', id, error: { code: rpcCodeFor(payload.code), message: payload.message, data: { code: payload.code } } };
}

function resolveGid(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    const line = execFileSync('getent', ['group', group], { encoding: 'utf8' });
    return Number(line.split(':')[2]);
  } catch (err) {
    throw new ProxyctlError('PXC_ERR_CONFIG', `control.group: unknown group "${group}"`, { cause: err });
  }
}
