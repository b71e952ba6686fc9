/**
 * The NoteStore data proxy's wire contract: JSON-RPC 2.0 over HTTP `POST /rpc`.
 * Types and constants only (no runtime imports), shared by the server, the
 * client and the CLI's `notes` commands.
 *
 * Errors (`error.code`, with the stable PXC_ERR_* code in `error.data.code`):
 *   -32700 parse error          body is not JSON                    PXC_ERR_BAD_PARAMS
 *   -32600 invalid request      not a JSON-RPC 2.0 request object   PXC_ERR_BAD_PARAMS
 *                               body over 1 MiB (HTTP 413)          PXC_ERR_BODY_TOO_LARGE
 *   -32601 method not found                                         PXC_ERR_UNKNOWN_COMMAND
 *   -32602 invalid params       the message names the parameter     PXC_ERR_BAD_PARAMS
 *   -32603 internal error       e.g. SQLite failed                  PXC_ERR_INTERNAL
 *   -32001 note not found       ReadNote/UpdateNote/DeleteNote       PXC_ERR_UNKNOWN_NOTE
 * Every JSON-RPC reply (errors included) is HTTP 200, except 413 (too large),
 * 404 (path other than /rpc), 405 (method other than POST) and 204 (notification).
 */

export const DATA_PROXY_PATH = '/rpc';
export const MAX_BODY_BYTES = 1024 * 1024;

export const RPC_NOTE_NOT_FOUND = -32001;

export interface Note {
  /** Random UUID given by CreateNote. */
  id: string;
  title: string;
  body: string;
  /** ISO 8601, UTC, millisecond precision. */
  created_at: string;
  updated_at: string;
}

/** The methods that touch notes; each is counted per shard in ExportShardStats. */
export const NOTE_METHODS = ['ListNotes', 'ReadNote', 'CreateNote', 'UpdateNote', 'DeleteNote'] as const;
export type NoteMethod = (typeof NOTE_METHODS)[number];

export const DATA_PROXY_METHODS = ['Ready', ...NOTE_METHODS, 'ExportShardStats'] as const;
export type DataProxyMethod = (typeof DATA_PROXY_METHODS)[number];

/** Safe to send twice: what the client may retry after a connection reset. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['Ready', 'ListNotes', 'ReadNote', 'ExportShardStats']);

export interface ReadyResult {
  ready: true;
  pid: number;
  version: string;
  shards: number;
  db: string;
}

/** The seed's RequestStats: how many calls, and how many per second lately. */
export interface RequestStats {
  total: number;
  /** Calls in the last closed second. */
  rate_1s: number;
  /** Mean calls per second over the last ten closed seconds. */
  rate_10s: number;
}

/** The seed's DataStoreStats: what ExportShardStats returns. */
export interface DataStoreStats {
  pid: number;
  version: string;
  /** Per shard id (`shard-0` … `shard-<K-1>`, the file name without `.db`), per note method. */
  shards: Record<string, Record<NoteMethod, RequestStats>>;
  /** Per method, every call this process answered (Ready and ExportShardStats included, errors included). */
  methods: Record<DataProxyMethod, RequestStats>;
  /** The most calls ever executing at once in this process: 1 while calls are serialised. */
  max_concurrent_calls: number;
}

export interface DataProxyMethods {
  Ready: { params: Record<string, never>; result: ReadyResult };
  ListNotes: { params: Record<string, never>; result: Note[] };
  ReadNote: { params: { id: string }; result: Note };
  CreateNote: { params: { title: string; body: string }; result: Note };
  UpdateNote: { params: { id: string; title?: string; body?: string }; result: Note };
  DeleteNote: { params: { id: string }; result: { deleted: true; id: string } };
  ExportShardStats: { params: Record<string, never>; result: DataStoreStats };
}
