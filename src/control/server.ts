import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Logger } from 'pino';
import { ProxyctlError, toErrorPayload, type ErrorPayload } from '../errors.js';
import { MAX_SOCKET_PATH_BYTES } from '../config/paths.js';
import { ensureDir } from '../state/state-dir.js';
import type { StatsRegistry } from '../stats/registry.js';
import { ControlConnection, type ConnectionHandler, type ControlRequest } from './connection.js';
import { SocketSubscriber, type EventBus, type EventSession } from './events.js';
import { rpcCodeFor, RPC_INVALID_REQUEST, RPC_PARSE_ERROR, type RpcErrorObject } from './jsonrpc.js';
import { rawBatchIds, rawRequestId } from './raw-ids.js';
import type { CommandRegistry, Dialect } from './registry.js';

export interface ControlServerOptions {
  path: string;
  /** Octal file mode, e.g. 0o600. */
  mode: number;
  group: string | null;
  maxLine: number;
  idleTimeoutMs: number;
  /** Connections open at once; more are answered with an error and closed. */
  maxConnections: number;
  /** The agent's event bus: JSON-RPC connections may subscribe to it (events.subscribe). */
  events?: EventBus;
}

/** Unsent reply bytes of one connection above which it is not read (its client is not reading). */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** Requests of one connection running or waiting to be written; a batch counts as its length. */
export const MAX_IN_FLIGHT = 32;
/** Requests in one JSON-RPC batch. */
export const MAX_BATCH = 256;
/** How long close() lets clients read their last replies before cutting them. */
const CLOSE_CUT_MS = 200;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The control socket: one Unix stream socket, two dialects chosen by the first
 * byte of each line. A line starting with `{` is a JSON-RPC 2.0 request, `[` a
 * batch of them, and the connection stays open; anything else is a talk line,
 * answered in plain text, after which the connection is closed (as
 * cvmfs_talk). Framing, reply order and backpressure: ControlConnection.
 */
export class ControlServer {
  readonly #registry: CommandRegistry;
  readonly #logger: Logger;
  readonly #opts: ControlServerOptions;
  readonly #clients = new Map<Socket, ControlConnection>();
  #server: Server | undefined;
  #stopping = false;
  /** Requests wait here until the agent has started every subsystem (see `open()`). */
  #opened!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#opened = resolve));

  readonly #connections;
  readonly #active;
  readonly #requests;
  readonly #errors;
  readonly #refused;
  readonly #rate;

  constructor(registry: CommandRegistry, stats: StatsRegistry, logger: Logger, opts: ControlServerOptions) {
    this.#registry = registry;
    this.#logger = logger;
    this.#opts = opts;
    const s = stats.scope('control');
    this.#connections = s.counter('connections', 'control connections accepted');
    this.#active = s.gauge('active_connections', 'control connections open now', () => this.#clients.size);
    s.gauge('paused_connections', 'control connections not read now: their clients do not read the replies, or have too many requests in flight', () => {
      let n = 0;
      for (const c of this.#clients.values()) if (c.paused) n++;
      return n;
    });
    this.#requests = { talk: s.scope('requests').counter('talk', 'talk requests'), jsonrpc: s.scope('requests').counter('jsonrpc', 'JSON-RPC requests') };
    this.#errors = s.counter('errors', 'control requests answered with an error');
    this.#refused = s.counter('refused', 'control connections refused over control.max_connections');
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
    ensureDir(dirname(path), 'socket dir');
    await this.#clearStaleSocket(path);

    // Half-open: a client that sent its lines and shut down its side still reads every reply.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.#onConnection(socket));
    // The umask makes the socket file come into being with the right mode: no window where it is wider.
    // listen() binds a Unix socket before it returns, so the umask is restored at once after it:
    // nothing else running in this process (an agent built in a test's process) meets it.
    const wanted = this.#opts.mode;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const oldMask = process.umask(0o777 & ~wanted);
        try {
          server.listen(path, () => {
            server.off('error', reject);
            resolve();
          });
        } finally {
          process.umask(oldMask);
        }
      });
    } catch (err) {
      throw new ProxyctlError('PXC_ERR_SOCKET_PATH', `cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
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
    if (this.#clients.size >= this.#opts.maxConnections) {
      // Refused at once, so a flood of idle clients cannot hold the descriptors the app proxies need.
      this.#refused.inc();
      this.#errors.inc();
      const err = new ProxyctlError('PXC_ERR_TOO_MANY_CONNECTIONS', `too many control connections (control.max_connections is ${this.#opts.maxConnections}); try again later`);
      socket.on('error', () => socket.destroy());
      socket.end(`error: ${err.message}\n`, () => socket.destroy());
      return;
    }
    let session: EventSession | undefined;
    const handler: ConnectionHandler = {
      parse: (line) => this.#parse(line, session),
      tooLong: (firstByte) => {
        const err = new ProxyctlError('PXC_ERR_LINE_TOO_LONG', `control line longer than ${this.#opts.maxLine} bytes`);
        this.#errors.inc();
        return isRpcStart(firstByte) ? rpcErrorLine('null', toErrorPayload(err)) : `error: ${err.message}\n`;
      },
    };
    const connection = new ControlConnection(socket, handler, {
      maxLine: this.#opts.maxLine,
      idleTimeoutMs: this.#opts.idleTimeoutMs,
      maxInFlight: MAX_IN_FLIGHT,
      maxUnsent: MAX_UNSENT_BYTES,
    });
    if (this.#opts.events) session = eventSession(this.#opts.events, socket, connection);
    this.#clients.set(socket, connection);
    socket.on('close', () => {
      this.#clients.delete(socket);
      session?.unsubscribe();
    });
  }

  /** One complete line → a request of its dialect. */
  #parse(raw: Buffer, session: EventSession | undefined): ControlRequest {
    const dialect: Dialect = isRpcStart(raw[0]) ? 'jsonrpc' : 'talk';
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      this.#requests[dialect].inc();
      this.#rate.mark();
      this.#errors.inc();
      const err = new ProxyctlError('PXC_ERR_BAD_ENCODING', 'control line is not valid UTF-8');
      // JSON-RPC goes on after a bad line; talk ends with it, as with any talk line.
      return dialect === 'jsonrpc' ? settled(rpcErrorLine('null', toErrorPayload(err))) : { ...settled(`error: ${err.message}\n`), last: true };
    }
    if (dialect === 'talk') {
      this.#requests.talk.inc();
      this.#rate.mark();
      return { weight: 1, last: true, run: () => this.#onTalk(text.replace(/\r$/, '')) };
    }
    return this.#parseRpc(text, session);
  }

  #parseRpc(text: string, session: EventSession | undefined): ControlRequest {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (err) {
      this.#requests.jsonrpc.inc();
      this.#rate.mark();
      this.#errors.inc();
      return settled(rpcLine('null', { error: { code: RPC_PARSE_ERROR, message: `parse error: ${(err as Error).message}` } }));
    }
    if (!Array.isArray(message)) {
      const rawId = rawRequestId(text);
      return { weight: 1, last: false, run: () => this.#onRpc(message, rawId, true, session) };
    }
    // A batch (JSON-RPC 2.0 §6): one array reply of the non-notification replies, none when all are notifications.
    if (message.length === 0 || message.length > MAX_BATCH) {
      this.#requests.jsonrpc.inc();
      this.#rate.mark();
      this.#errors.inc();
      const why = message.length === 0 ? 'an empty batch' : `a batch of ${message.length} requests (at most ${MAX_BATCH})`;
      return settled(rpcLine('null', { error: { code: RPC_INVALID_REQUEST, message: `invalid request: ${why}` } }));
    }
    const rawIds = rawBatchIds(text);
    const batch = message as unknown[];
    return {
      weight: batch.length,
      last: false,
      run: async () => {
        const replies = await Promise.all(batch.map((m, i) => this.#onRpc(m, rawIds[i], false, session)));
        const sent = replies.filter((r): r is string => r !== null);
        return sent.length === 0 ? null : `[${sent.join(',')}]\n`;
      },
    };
  }

  async #onTalk(line: string): Promise<string> {
    let reply: string;
    try {
      await this.#ready;
      this.#refuseIfStopping();
      if (line.trim() === '') throw new ProxyctlError('PXC_ERR_UNKNOWN_COMMAND', "empty command; try 'help'");
      const match = this.#registry.matchTalk(line);
      if (!match) throw new ProxyctlError('PXC_ERR_UNKNOWN_COMMAND', this.#registry.unknownTalk(line));
      const params = this.#registry.talkParams(match.command, match.args, match.rest);
      const result = await this.#registry.invoke(match.command, params, { dialect: 'talk' });
      reply = await this.#registry.renderText(match.command, result);
    } catch (err) {
      this.#errors.inc();
      reply = `error: ${this.#explain(err).message}`;
    }
    return reply.endsWith('\n') ? reply : reply + '\n';
  }

  /**
   * One JSON-RPC request object (alone, or an element of a batch) → its reply
   * (without the newline when in a batch), or null for a notification.
   * `rawId` is the id's source text: a number id is echoed as sent.
   */
  async #onRpc(message: unknown, rawId: string | undefined, alone: boolean, session: EventSession | undefined): Promise<string | null> {
    this.#requests.jsonrpc.inc();
    this.#rate.mark();
    const end = alone ? '\n' : '';
    const r = (message !== null && typeof message === 'object' && !Array.isArray(message) ? message : {}) as Record<string, unknown>;
    const hasId = Object.hasOwn(r, 'id');
    const idValid = !hasId || r.id === null || typeof r.id === 'string' || typeof r.id === 'number';
    if (!idValid) {
      this.#errors.inc();
      return rpcLine('null', { error: { code: RPC_INVALID_REQUEST, message: 'invalid request: id must be a string, a number or null' } }, end);
    }
    const idText = !hasId || r.id === null ? 'null' : typeof r.id === 'number' && rawId !== undefined ? rawId : JSON.stringify(r.id);
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || (r.params !== undefined && (typeof r.params !== 'object' || r.params === null))) {
      this.#errors.inc();
      return rpcLine(idText, { error: { code: RPC_INVALID_REQUEST, message: 'invalid request: expected {"jsonrpc":"2.0","method":string,"params"?:object,"id"?:string|number|null}' } }, end);
    }
    let body: RpcBody;
    try {
      await this.#ready;
      this.#refuseIfStopping();
      const command = this.#registry.byMethod(r.method);
      if (!command) throw new ProxyctlError('PXC_ERR_UNKNOWN_COMMAND', `method not found: ${r.method}`);
      const result = await this.#registry.invoke(command, r.params, { dialect: 'jsonrpc', events: session });
      body = { result: result ?? null };
    } catch (err) {
      this.#errors.inc();
      body = rpcErrorBody(this.#explain(err));
    }
    if (!hasId) return null; // a notification: no reply, not even an error
    try {
      return rpcLine(idText, body, end);
    } catch (err) {
      // A result JSON cannot express (a cycle, a BigInt): the caller still gets an answer.
      return rpcLine(idText, rpcErrorBody(this.#explain(err)), end);
    }
  }

  #refuseIfStopping(): void {
    if (this.#stopping) throw new ProxyctlError('PXC_ERR_SHUTTING_DOWN', 'the agent is shutting down');
  }

  #explain(err: unknown): ErrorPayload {
    const payload = toErrorPayload(err);
    if (payload.code === 'PXC_ERR_INTERNAL') this.#logger.error({ err }, 'control command failed');
    return payload;
  }

  /** Starts answering requests; until then they wait (the agent is still starting its subsystems). */
  open(): void {
    this.#opened();
  }

  /**
   * From now on every request is answered with PXC_ERR_SHUTTING_DOWN; the
   * socket stays bound, so no second agent takes the path while this one is
   * still stopping.
   */
  refuseNew(): void {
    this.#stopping = true;
  }

  /** Stops accepting, ends every client after its replies in flight (cut after 200 ms) and removes the socket file. */
  async close(): Promise<void> {
    this.#stopping = true;
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.#clients.values()) c.end();
    const cut = setTimeout(() => {
      for (const socket of this.#clients.keys()) socket.destroy();
    }, CLOSE_CUT_MS);
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
 * A connection's subscription: events are written between replies (whole
 * lines, never inside one), dropped while the client does not read (see
 * SocketSubscriber), and end when the connection closes.
 */
function eventSession(bus: EventBus, socket: Socket, connection: ControlConnection): EventSession {
  const sub = new SocketSubscriber(bus, socket, MAX_UNSENT_BYTES);
  socket.on('drain', () => sub.drained());
  return {
    subscribe(topics) {
      sub.subscribe(topics);
      connection.stream(true);
    },
    unsubscribe() {
      if (!sub.active) return;
      sub.unsubscribe();
      if (!socket.destroyed) connection.stream(false);
    },
    get topics() {
      return sub.topics;
    },
  };
}

/** A request whose reply is already known (a line refused before dispatch). */
function settled(reply: string): ControlRequest {
  return { weight: 1, last: false, run: () => Promise.resolve(reply) };
}

function isRpcStart(byte: number | undefined): boolean {
  return byte === 0x7b || byte === 0x5b; // '{' a request, '[' a batch
}

type RpcBody = { result: unknown } | { error: RpcErrorObject };

function rpcErrorBody(payload: ErrorPayload): { error: RpcErrorObject } {
  return { error: { code: rpcCodeFor(payload.code), message: payload.message, data: { code: payload.code } } };
}

/** A reply line; `idText` is JSON text (the client's own token for a number id). */
function rpcLine(idText: string, body: RpcBody, end = '\n'): string {
  const tail = 'result' in body ? `"result":${JSON.stringify(body.result)}` : `"error":${JSON.stringify(body.error)}`;
  return `{"jsonrpc":"2.0","id":${idText},${tail}}${end}`;
}

function rpcErrorLine(idText: string, payload: ErrorPayload): string {
  return rpcLine(idText, rpcErrorBody(payload));
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
