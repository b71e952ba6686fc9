import type { Agent } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import { JsonRpcClient, RpcCallError, type CallOptions } from '../net/json-rpc-client.js';
import { undici } from '../net/undici.js';
import { probeTcp } from '../net/tcp-probe.js';
import type { DataProxyMethods } from './data-proxy/protocol.js';

/**
 * How the agent talks to one instance: the readiness probe and the JSON-RPC
 * calls it makes itself (Ready, ExportShardStats), on one pool of kept-alive
 * connections. Every call has a deadline; none throws for a plain "not yet"
 * (a refused connect is a reason string).
 */

/** The methods the agent itself calls on an instance. */
export type InstanceMethods = Pick<DataProxyMethods, 'Ready' | 'ExportShardStats'>;

export class InstanceClient {
  #pool: { agent: Agent; rpc: JsonRpcClient<InstanceMethods> } | null = null;

  /** The connection pool, made at the first call: an agent without services never loads undici. */
  #conn(): { agent: Agent; rpc: JsonRpcClient<InstanceMethods> } {
    if (!this.#pool) {
      const agent = new (undici().Agent)({ keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000, connections: 2 });
      this.#pool = { agent, rpc: new JsonRpcClient<InstanceMethods>({ label: 'instance', dispatcher: agent }) };
    }
    return this.#pool;
  }

  /** One JSON-RPC call to `http://host:port<path>` with a deadline (ms, or options); rejects with RpcCallError for an error reply. */
  call<K extends keyof InstanceMethods>(host: string, port: number, path: string, method: K, params: InstanceMethods[K]['params'], opts: CallOptions | number): Promise<InstanceMethods[K]['result']>;
  /** A method outside the agent's own table (e.g. a test instance's): the result is not checked. */
  call(host: string, port: number, path: string, method: string, params: object, opts: CallOptions | number): Promise<unknown>;
  call(host: string, port: number, path: string, method: string, params: object, opts: CallOptions | number): Promise<unknown> {
    const rpc = this.#conn().rpc as unknown as JsonRpcClient<Record<string, { params: object; result: unknown }>>;
    return rpc.call(instanceUrl(host, port, path), method, params, typeof opts === 'number' ? { timeoutMs: opts } : opts);
  }

  /** One readiness probe. Resolves `true` (ready) or a reason string (not ready). */
  async probe(ready: ServiceConfig['ready'], host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<true | string> {
    try {
      switch (ready.kind) {
        case 'tcp': {
          const r = await probeTcp(host, port, timeoutMs, signal);
          return r.ok ? true : r.timedOut ? `connect timed out after ${timeoutMs} ms` : r.aborted ? 'aborted' : describeError(r.error);
        }
        case 'http': {
          const deadline = AbortSignal.timeout(timeoutMs);
          const res = await undici().request(instanceUrl(host, port, ready.path), { dispatcher: this.#conn().agent, signal: signal ? AbortSignal.any([deadline, signal]) : deadline });
          await res.body.dump();
          return res.statusCode >= 200 && res.statusCode < 300 ? true : `GET ${ready.path} answered ${res.statusCode}`;
        }
        case 'jsonrpc': {
          const result = (await this.call(host, port, ready.path, 'Ready', {}, { timeoutMs, signal })) as unknown;
          return result !== null && typeof result === 'object' && (result as { ready?: unknown }).ready === true ? true : `Ready answered ${JSON.stringify(result)}`;
        }
      }
    } catch (err) {
      if (err instanceof RpcCallError) return `Ready answered error ${err.rpcCode ?? '(no code)'}: ${err.message}`;
      if (err instanceof ProxyctlError) return err.message;
      return describeError(err);
    }
  }

  async close(): Promise<void> {
    await this.#pool?.agent.close();
  }
}

function instanceUrl(host: string, port: number, path: string): URL {
  return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`);
}

export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.cause?.code ?? e?.code;
  const message = e?.cause?.message ?? e?.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
