import { JsonRpcClient, type RetryOnReset } from '../../net/json-rpc-client.js';
import { IDEMPOTENT_METHODS, type DataProxyMethod, type DataProxyMethods, type Note } from './protocol.js';
import { dataProxyUrl } from './url.js';

export { dataProxyUrl };

/**
 * The data proxy's client for one URL: the NoteStore's methods, typed, over
 * the one JSON-RPC client (src/net/json-rpc-client.ts). Used by `proxyctl
 * notes` and the tests; the agent's own calls go through InstanceClient.
 */

export interface DataProxyClientOptions {
  /** Names the instance in error messages (the seed's proxy client id); observability only. */
  id?: string | number;
  /** Per-call deadline, ms (default 10 000). */
  timeoutMs?: number;
  /**
   * Retry once a call whose connection was reset before any answer (a
   * retiring instance, or the app proxy, closing a kept-alive connection):
   * 'idempotent' for Ready, ListNotes, ReadNote and ExportShardStats,
   * 'always' for writes too (the call may have run). Default 'never'.
   */
  retryOnReset?: RetryOnReset;
  /** Keep connections open between calls (default true). */
  keepAlive?: boolean;
}

export class DataProxyClient {
  readonly url: URL;
  readonly #rpc: JsonRpcClient<DataProxyMethods>;

  constructor(url: string | URL, opts: DataProxyClientOptions = {}) {
    this.url = typeof url === 'string' ? dataProxyUrl(url) : url;
    this.#rpc = new JsonRpcClient<DataProxyMethods>({
      label: opts.id === undefined ? 'data proxy' : `data proxy ${opts.id}`,
      timeoutMs: opts.timeoutMs,
      retryOnReset: opts.retryOnReset,
      keepAlive: opts.keepAlive,
      idempotent: IDEMPOTENT_METHODS,
    });
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

  /** One call; rejects with RpcCallError (error reply) or a ProxyctlError (timeout, transport). */
  call<M extends DataProxyMethod>(method: M, params: DataProxyMethods[M]['params']): Promise<DataProxyMethods[M]['result']> {
    return this.#rpc.call(this.url, method, params);
  }

  /** Closes every kept-alive connection. */
  close(): Promise<void> {
    return this.#rpc.close();
  }
}
