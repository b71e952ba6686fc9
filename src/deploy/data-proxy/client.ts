import { Agent, request, type IncomingMessage } from 'node:http';
import { isErrorCode, ProxyctlError, type ErrorCode } from '../../errors.js';
import { DATA_PROXY_PATH, IDEMPOTENT_METHODS, type DataProxyMethod, type DataProxyMethods, type Note } from './protocol.js';

/**
 * The data proxy's client: JSON-RPC 2.0 over HTTP with keep-alive connections
 * (node:http only, so the CLI stays quick to start). Used by `proxyctl notes`
 * and by the agent's services (Ready probes, ExportShardStats pulls).
 */

export type RetryOnReset = 'never' | 'idempotent' | 'always';

export interface DataProxyClientOptions {
  /** Names the instance in error messages (the seed's proxy client id); observability only. */
  id?: string | number;
  /** Per-call deadline, ms (default 10 000). */
  timeoutMs?: number;
  /**
   * A keep-alive connection the server closed while idle (a retiring instance,
   * its idle timeout) makes the next call on it fail with a reset before any
   * answer. 'idempotent' retries such a call once on a fresh connection when
   * its method is Ready, ListNotes, ReadNote or ExportShardStats; 'always' also
   * retries writes (this server only ever closes idle connections, so a reset
   * before any answer means the call never ran; an intermediary may not
   * promise that). Default 'never'.
   */
  retryOnReset?: RetryOnReset;
  /** Keep connections open between calls (default true). */
  keepAlive?: boolean;
}

/** The data proxy answered with a JSON-RPC error; `rpcCode` is error.code, `code` error.data.code. */
export class DataProxyRpcError extends ProxyctlError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly rpcCode: number,
  ) {
    super(code, message);
    this.name = 'DataProxyRpcError';
  }
}

/** Resolves `http://host:port` or `http://host:port/rpc` to the RPC endpoint. */
export function dataProxyUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ProxyctlError('PXC_ERR_BAD_URL', `--url: "${input}" is not a URL (expected http://HOST:PORT)`);
  }
  if (url.protocol !== 'http:') throw new ProxyctlError('PXC_ERR_BAD_URL', `--url: "${input}": only http:// is served by the data proxy`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = DATA_PROXY_PATH;
  return url;
}

interface RpcReply {
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: { code?: unknown } };
}

export class DataProxyClient {
  readonly url: URL;
  readonly #agent: Agent;
  readonly #name: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryOnReset;
  #nextId = 1;

  constructor(url: string | URL, opts: DataProxyClientOptions = {}) {
    this.url = typeof url === 'string' ? dataProxyUrl(url) : url;
    this.#agent = new Agent({ keepAlive: opts.keepAlive ?? true });
    this.#name = opts.id === undefined ? `data proxy at ${this.url.host}` : `data proxy ${opts.id} at ${this.url.host}`;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#retry = opts.retryOnReset ?? 'never';
  }

  ready(): Promise<DataProxyMethods['Ready']['result']> {
    return this.call('Ready', {});
  }

  listNotes(): Promise<Note[]> {
    return this.call('ListNotes', {});
  }

  readNote(id: string): Promise<Note> {
    return this.call('ReadNote', { id });
  }

  createNote(title: string, body: string): Promise<Note> {
    return this.call('CreateNote', { title, body });
  }

  updateNote(id: string, patch: { title?: string; body?: string }): Promise<Note> {
    return this.call('UpdateNote', { id, ...patch });
  }

  deleteNote(id: string): Promise<DataProxyMethods['DeleteNote']['result']> {
    return this.call('DeleteNote', { id });
  }

  exportShardStats(): Promise<DataProxyMethods['ExportShardStats']['result']> {
    return this.call('ExportShardStats', {});
  }

  /** One call; rejects with DataProxyRpcError (error reply) or a ProxyctlError (transport). */
  async call<M extends DataProxyMethod>(method: M, params: DataProxyMethods[M]['params']): Promise<DataProxyMethods[M]['result']> {
    const body = JSON.stringify({ jsonrpc: '2.0', id: this.#nextId++, method, params });
    const retry = this.#retry === 'always' || (this.#retry === 'idempotent' && IDEMPOTENT_METHODS.has(method));
    try {
      return (await this.#post(method, body)) as DataProxyMethods[M]['result'];
    } catch (err) {
      if (!retry || !(err instanceof ResetOnReusedSocket)) throw translate(err, this.#name, method);
    }
    try {
      return (await this.#post(method, body)) as DataProxyMethods[M]['result'];
    } catch (err) {
      throw translate(err, this.#name, method);
    }
  }

  /** Closes every kept-alive connection. */
  close(): void {
    this.#agent.destroy();
  }

  #post(method: string, body: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST',
        agent: this.#agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      });
      let answered = false;
      req.setTimeout(this.#timeoutMs, () => req.destroy(new ProxyctlError('PXC_ERR_TIMEOUT', `${this.#name} did not answer ${method} within ${this.#timeoutMs / 1000} s`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!answered && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) reject(new ResetOnReusedSocket(err));
        else reject(err);
      });
      req.on('response', (res: IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve(this.#decode(method, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.end(body);
    });
  }

  #decode(method: string, status: number, text: string): unknown {
    let reply: RpcReply;
    try {
      reply = JSON.parse(text) as RpcReply;
    } catch {
      throw new ProxyctlError('PXC_ERR_DATA_PROXY_UNREACHABLE', `${this.#name} answered ${method} with HTTP ${status} and no JSON-RPC reply${text ? `: ${text.slice(0, 200)}` : ''}`);
    }
    if (reply.error) {
      const code = isErrorCode(reply.error.data?.code) ? reply.error.data.code : 'PXC_ERR_INTERNAL';
      const rpcCode = typeof reply.error.code === 'number' ? reply.error.code : 0;
      throw new DataProxyRpcError(code, String(reply.error.message ?? `${method} failed`), rpcCode);
    }
    if (status !== 200 || !('result' in reply)) throw new ProxyctlError('PXC_ERR_DATA_PROXY_UNREACHABLE', `${this.#name} answered ${method} with HTTP ${status} and no JSON-RPC result`);
    return reply.result;
  }
}

/** A reset on a kept-alive connection before any answer: the call may be retried. */
class ResetOnReusedSocket extends Error {
  constructor(readonly original: NodeJS.ErrnoException) {
    super(original.message);
  }
}

function translate(err: unknown, name: string, method: string): Error {
  if (err instanceof ProxyctlError) return err;
  const e = err instanceof ResetOnReusedSocket ? err.original : (err as NodeJS.ErrnoException);
  const why = e.code ?? e.message;
  return new ProxyctlError('PXC_ERR_DATA_PROXY_UNREACHABLE', `cannot reach the ${name} for ${method} (${why})`, { cause: e });
}
