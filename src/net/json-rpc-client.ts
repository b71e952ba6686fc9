import type { Agent, Dispatcher } from 'undici';
import { isErrorCode, ProxyctlError, type ErrorCode } from '../errors.js';
import { undici } from './undici.js';

/**
 * The one JSON-RPC 2.0 client: calls over HTTP POST on undici, typed by a
 * method table (`{ Method: { params; result } }`), each call with a deadline
 * and an optional abort signal. Used by the CLI's `notes` commands (through
 * DataProxyClient) and by the agent's readiness probes and ExportShardStats
 * pulls (InstanceClient).
 *
 * undici rather than node:http: it is already the agent's HTTP client (the
 * downloads), it pools kept-alive connections per origin and honours the
 * server's `Keep-Alive: timeout` hint (so it rarely sends on a connection the
 * server is closing), and a call's whole life (connect, headers, body) is
 * bounded by one AbortSignal.
 *
 * Failures, each a ProxyctlError:
 * - the server answered with a JSON-RPC error → RpcCallError: `rpcCode` is
 *   error.code, `code` error.data.code when it is a PXC_ERR_* code (else
 *   PXC_ERR_INSTANCE_RPC), the message the server's;
 * - no answer within the deadline → PXC_ERR_TIMEOUT;
 * - no connection, a reset, or an answer outside JSON-RPC →
 *   PXC_ERR_DATA_PROXY_UNREACHABLE, with the transport error as `cause`.
 */

/** A method table: for each method, what it takes and what it returns. */
export type RpcMethodTable<M> = { [K in keyof M]: { params: unknown; result: unknown } };

/**
 * A connection closed or reset before any byte of the reply (a kept-alive
 * connection the server, or a proxy in front of it, closed as the call went
 * out). 'idempotent' retries such a call once when its method is in
 * `idempotent`; 'always' retries any call: the server may have run it, so only
 * for callers that accept a doubled write (load generators). Default 'never'.
 */
export type RetryOnReset = 'never' | 'idempotent' | 'always';

export interface JsonRpcClientOptions {
  /** How errors name the server: `cannot reach the <label> at HOST:PORT …` (default "JSON-RPC server"). */
  label?: string;
  /** Per-call deadline, ms (default 10 000); a call may give its own. */
  timeoutMs?: number;
  retryOnReset?: RetryOnReset;
  /** The methods safe to send twice (for retryOnReset 'idempotent'). */
  idempotent?: ReadonlySet<string>;
  /** Keep connections open between calls (default true). Ignored with `dispatcher`. */
  keepAlive?: boolean;
  /**
   * At most this many connections per server (default: no limit). undici opens
   * a second connection for a call made in the same tick as the previous one
   * finished; 1 makes every call wait for, and reuse, the one connection.
   */
  connections?: number;
  /** A dispatcher to share (e.g. with a plain GET probe); the client does not close it. */
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  /** This call's deadline, ms (default: the client's). */
  timeoutMs?: number;
  /** Aborts the call; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** JSON-RPC 2.0 "method not found": the server does not offer the method. */
export const RPC_METHOD_NOT_FOUND = -32601;

/** A JSON-RPC error reply: `rpcCode` is its error.code (null when it had none), `code` its error.data.code if a PXC_ERR_* code. */
export class RpcCallError extends ProxyctlError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly rpcCode: number | null,
    readonly method: string,
  ) {
    super(code, message);
    this.name = 'RpcCallError';
  }
}

interface RpcReply {
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: { code?: unknown } };
}

/** Transport errors that mean "the connection went away before any reply". */
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export class JsonRpcClient<M extends RpcMethodTable<M>> {
  readonly #dispatcher: Dispatcher;
  readonly #owned: Agent | null;
  readonly #label: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryOnReset;
  readonly #idempotent: ReadonlySet<string>;
  #nextId = 1;

  constructor(opts: JsonRpcClientOptions = {}) {
    // pipelining 0 is undici's "no keep-alive": one connection per call
    this.#owned = opts.dispatcher ? null : new (undici().Agent)({ connections: opts.connections ?? null, ...(opts.keepAlive === false && { pipelining: 0 }) });
    this.#dispatcher = opts.dispatcher ?? this.#owned!;
    this.#label = opts.label ?? 'JSON-RPC server';
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#retry = opts.retryOnReset ?? 'never';
    this.#idempotent = opts.idempotent ?? new Set();
  }

  /** One call to `url` (the RPC endpoint itself, e.g. http://127.0.0.1:7001/rpc). */
  async call<K extends keyof M & string>(url: URL, method: K, params: M[K]['params'], opts: CallOptions = {}): Promise<M[K]['result']> {
    const body = JSON.stringify({ jsonrpc: '2.0', id: this.#nextId++, method, params });
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
    const retry = this.#retry === 'always' || (this.#retry === 'idempotent' && this.#idempotent.has(method));
    for (let attempt = 0; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await undici().request(url, { method: 'POST', dispatcher: this.#dispatcher, headers: { 'content-type': 'application/json' }, body, signal });
      } catch (err) {
        if (retry && attempt === 0 && !signal.aborted && RESET_CODES.has((err as NodeJS.ErrnoException).code ?? '')) continue;
        throw this.#transportError(err, url, method, timeoutMs, deadline, opts.signal);
      }
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        throw this.#transportError(err, url, method, timeoutMs, deadline, opts.signal);
      }
      return this.#decode(url, method, res.statusCode, text) as M[K]['result'];
    }
  }

  /** Closes every connection at once (kept-alive ones would hold a CLI open). Leaves a shared dispatcher alone. */
  async close(): Promise<void> {
    await this.#owned?.destroy();
  }

  #decode(url: URL, method: string, status: number, text: string): unknown {
    let reply: RpcReply;
    try {
      reply = JSON.parse(text) as RpcReply;
    } catch {
      throw new ProxyctlError('PXC_ERR_DATA_PROXY_UNREACHABLE', `the ${this.#label} at ${url.host} answered ${method} with HTTP ${status} and no JSON-RPC reply${text ? `: ${text.slice(0, 200)}` : ''}`);
    }
    if (reply !== null && typeof reply === 'object' && reply.error) {
      const code = isErrorCode(reply.error.data?.code) ? reply.error.data.code : 'PXC_ERR_INSTANCE_RPC';
      const rpcCode = typeof reply.error.code === 'number' ? reply.error.code : null;
      throw new RpcCallError(code, String(reply.error.message ?? `${method} failed`), rpcCode, method);
    }
    if (status !== 200 || reply === null || typeof reply !== 'object' || !('result' in reply)) {
      throw new ProxyctlError('PXC_ERR_DATA_PROXY_UNREACHABLE', `the ${this.#label} at ${url.host} answered ${method} with HTTP ${status} and no JSON-RPC result`);
    }
    return reply.result;
  }

  #transportError(err: unknown, url: URL, method: string, timeoutMs: number, deadline: AbortSignal, caller: AbortSignal | undefined): unknown {
    if (caller?.aborted) return caller.reason;
    if (deadline.aborted) return new ProxyctlError('PXC_ERR_TIMEOUT', `the ${this.#label} at ${url.host} did not answer ${method} within ${timeoutMs / 1000} s`, { cause: err });
    // a system error by its code (ECONNREFUSED); undici's own (UND_ERR_SOCKET) by what it says ("other side closed")
    const e = err as NodeJS.ErrnoException;
    const why = e.code && !e.code.startsWith('UND_ERR') ? e.code : e.message;
    return new ProxyctlError('PXC_ERR_DATA_PROXY_UNREACHABLE', `cannot reach the ${this.#label} at ${url.host} for ${method} (${why})`, { cause: err });
  }
}
