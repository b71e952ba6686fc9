import { createConnection, type Socket } from 'node:net';
import { isErrorCode, ProxyctlError, type ErrorCode } from '../errors.js';
import type { Methods } from './methods.js';
import type { RpcResponse } from './jsonrpc.js';

/**
 * The CLI's side of the control socket. Imported by every client command, so it
 * pulls in nothing but node:net: a command's start-up time is the CLI's.
 */

/** The agent answered with an error. */
export class AgentError extends ProxyctlError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'AgentError';
  }
}

export class AgentUnreachableError extends ProxyctlError {
  readonly socketPath: string;
  constructor(socketPath: string, cause: unknown) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    super('PXC_ERR_AGENT_UNREACHABLE', `cannot reach the agent at ${socketPath} (${why}); start it with 'proxyctl agent start' or point --socket / PROXYCTL_SOCKET at it`, { cause });
    this.name = 'AgentUnreachableError';
    this.socketPath = socketPath;
  }
}

export interface ClientOptions {
  /** Per-call timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/** A notification the agent sent on its own (events.subscribe): `event` or `lost`. */
export interface Notification {
  method: string;
  params: Record<string, unknown>;
}

/** A JSON-RPC connection to the agent; requests may be issued concurrently. */
export class ControlClient {
  readonly #socket: Socket;
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  #buffer = '';
  #closedError: Error | undefined;
  readonly #listeners = new Set<(n: Notification) => void>();
  readonly #closed: Promise<Error>;

  private constructor(socket: Socket, path: string, opts: ClientOptions) {
    this.#socket = socket;
    this.#path = path;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    this.#closed = new Promise((resolve) => {
      socket.on('close', () => {
        const err = this.#closedError ?? new AgentError('PXC_ERR_AGENT_UNREACHABLE', `the agent closed the connection on ${path}`);
        this.#failAll(err);
        resolve(err);
      });
    });
    socket.on('error', (err) => {
      this.#closedError = new AgentUnreachableError(path, err);
    });
  }

  static connect(path: string, opts: ClientOptions = {}): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      const onError = (err: Error) => reject(new AgentUnreachableError(path, err));
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new ControlClient(socket, path, opts));
      });
    });
  }

  /** Calls a method and resolves with its typed result. */
  call<M extends keyof Methods>(method: M, params: Methods[M]['params']): Promise<Methods[M]['result']>;
  call(method: string, params?: object): Promise<unknown>;
  call(method: string, params: object = {}): Promise<unknown> {
    if (this.#closedError || this.#socket.destroyed) return Promise.reject(this.#closedError ?? new AgentUnreachableError(this.#path, new Error('connection closed')));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AgentError('PXC_ERR_TIMEOUT', `the agent did not answer ${method} within ${this.#timeoutMs / 1000} s`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  /** Calls `fn` with every notification (events after events.subscribe); returns the function that stops it. */
  onNotification(fn: (n: Notification) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Resolves with why, once the connection is closed (by either side). */
  get closed(): Promise<Error> {
    return this.#closed;
  }

  close(): void {
    this.#socket.end();
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) !== -1) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      let msg: RpcResponse;
      try {
        msg = JSON.parse(line) as RpcResponse;
      } catch {
        // The agent's one plain-text refusal of a whole connection (control.max_connections).
        if (line.startsWith('error: ')) this.#failAll(new AgentError(/too many control connections/.test(line) ? 'PXC_ERR_TOO_MANY_CONNECTIONS' : 'PXC_ERR_INTERNAL', line.slice(7)));
        continue;
      }
      if (!('id' in msg) && typeof (msg as { method?: unknown }).method === 'string') {
        const n = msg as unknown as Notification;
        for (const fn of this.#listeners) fn(n);
        continue;
      }
      const waiter = typeof msg.id === 'number' ? this.#pending.get(msg.id) : undefined;
      if (!waiter) {
        // An error without an id (e.g. line too long) fails every call in flight.
        if ('error' in msg) this.#failAll(new AgentError(errorCode(msg.error.data?.code), msg.error.message));
        continue;
      }
      this.#pending.delete(msg.id as number);
      clearTimeout(waiter.timer);
      if ('error' in msg) waiter.reject(new AgentError(errorCode(msg.error.data?.code), msg.error.message));
      else waiter.resolve(msg.result);
    }
  }

  #failAll(err: Error): void {
    for (const [id, w] of this.#pending) {
      clearTimeout(w.timer);
      w.reject(err);
      this.#pending.delete(id);
    }
  }
}

function errorCode(code: unknown): ErrorCode {
  return isErrorCode(code) ? code : 'PXC_ERR_INTERNAL';
}

/** One call on a fresh connection, always closed afterwards (an open socket keeps the CLI alive). */
export async function callOnce<M extends keyof Methods>(path: string, method: M, params: Methods[M]['params'], opts?: ClientOptions): Promise<Methods[M]['result']> {
  const client = await ControlClient.connect(path, opts);
  try {
    return await client.call(method, params);
  } finally {
    client.close();
  }
}

/** Sends one talk line and returns the agent's reply text as is. */
export function talk(path: string, line: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AgentError('PXC_ERR_TIMEOUT', `the agent did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(line.replace(/\n/g, ' ') + '\n'));
    socket.on('data', (c: string) => (reply += c));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new AgentUnreachableError(path, err));
    });
    socket.once('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    });
  });
}
