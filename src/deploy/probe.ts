import { Agent, request } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import { probeTcp } from '../net/tcp-probe.js';

/**
 * How the agent talks to one instance: the readiness probe and the JSON-RPC
 * calls it makes itself (Ready, ExportShardStats). Every call has a deadline;
 * none throws for a plain "not yet" (a refused connect is `false`).
 */

/** An instance's error reply, or a reply that is not JSON-RPC; `rpcCode` is the reply's error.code, if it had one. */
export class RpcCallError extends ProxyctlError {
  constructor(
    readonly rpcCode: number | null,
    message: string,
  ) {
    super('PXC_ERR_INSTANCE_RPC', message);
    this.name = 'RpcCallError';
  }
}

/** JSON-RPC 2.0 method not found: the instance does not offer the method. */
export const RPC_METHOD_NOT_FOUND = -32601;

export class InstanceClient {
  readonly #agent = new Agent({ keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000, connections: 2 });
  #nextId = 1;

  /** One JSON-RPC call to `http://host:port<path>`; throws RpcCallError for an error reply. */
  async call(host: string, port: number, path: string, method: string, params: object, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId++;
    const res = await request(`http://${hostForUrl(host)}:${port}${path}`, {
      method: 'POST',
      dispatcher: this.#agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    let msg: { result?: unknown; error?: { code?: number; message?: string } };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      throw new RpcCallError(null, `${method}: HTTP ${res.statusCode}, not a JSON-RPC reply`);
    }
    if (msg.error) throw new RpcCallError(typeof msg.error.code === 'number' ? msg.error.code : null, `${method}: ${msg.error.message ?? 'error'}`);
    if (!('result' in msg)) throw new RpcCallError(null, `${method}: HTTP ${res.statusCode}, reply without result`);
    return msg.result;
  }

  /** One readiness probe. Resolves `true` (ready) or a reason string (not ready). */
  async probe(ready: ServiceConfig['ready'], host: string, port: number, timeoutMs: number): Promise<true | string> {
    try {
      switch (ready.kind) {
        case 'tcp':
          return await tcpProbe(host, port, timeoutMs);
        case 'http': {
          const res = await request(`http://${hostForUrl(host)}:${port}${ready.path}`, { dispatcher: this.#agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
          await res.body.dump();
          return res.statusCode >= 200 && res.statusCode < 300 ? true : `GET ${ready.path} answered ${res.statusCode}`;
        }
        case 'jsonrpc': {
          const result = (await this.call(host, port, ready.path, 'Ready', {}, timeoutMs)) as { ready?: unknown } | null;
          return result !== null && typeof result === 'object' && result.ready === true ? true : `Ready answered ${JSON.stringify(result)}`;
        }
      }
    } catch (err) {
      return describeError(err);
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

async function tcpProbe(host: string, port: number, timeoutMs: number): Promise<true | string> {
  const r = await probeTcp(host, port, timeoutMs);
  return r.ok ? true : r.timedOut ? `connect timed out after ${timeoutMs} ms` : describeError(r.error);
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.cause?.code ?? e?.code;
  const message = e?.cause?.message ?? e?.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
