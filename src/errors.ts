/**
 * Errors as values with a stable code. Every failure an operator can see has a
 * `PXC_ERR_*` code, a message naming the offending input, and `cause` when it
 * wraps another error. The code crosses the control socket unchanged; the CLI
 * maps codes to exit codes in one place (src/cli/exit-codes.ts).
 *
 * Subsystems add their codes to ERROR_CODES (the man page is generated from it)
 * and throw `new ProxyctlError(code, message)` or a subclass.
 */

export const ERROR_CODES = {
  PXC_ERR_INTERNAL: 'an unexpected failure inside the agent; the log has details',
  PXC_ERR_BAD_PARAMS: 'a command was given missing or malformed arguments',
  PXC_ERR_UNKNOWN_COMMAND: 'no such command (talk) or method (JSON-RPC)',
  PXC_ERR_LINE_TOO_LONG: 'a control line exceeded control.max_line bytes',
  PXC_ERR_BAD_ENCODING: 'a control line was not valid UTF-8',
  PXC_ERR_CONFIG: 'the config file is missing, unreadable, not JSON or fails validation',
  PXC_ERR_SOCKET_IN_USE: 'another agent is already serving the control socket',
  PXC_ERR_SOCKET_PATH: 'the control socket path is too long or its directory unusable',
  PXC_ERR_STATE_DIR: 'the state directory cannot be created or is not a directory',
  PXC_ERR_STATE_LOCKED: 'another agent holds the state directory (the message names its pid and socket)',
  PXC_ERR_TOO_MANY_CONNECTIONS: 'the agent has control.max_connections control connections open; try again later',
  PXC_ERR_AGENT_UNREACHABLE: 'the CLI could not connect to the agent',
  PXC_ERR_TIMEOUT: 'the agent did not answer in time',
  PXC_ERR_SHUTTING_DOWN: 'the agent is shutting down and refuses new work',
  PXC_ERR_BAD_PROXY_SPEC: 'a proxy string is malformed (the message names the bad token)',
  PXC_ERR_BAD_POLICY: 'an unknown selection policy, or a policy module without both exports',
  PXC_ERR_PAC: 'proxy auto-discovery (auto in the proxy string) found no PAC file that could be fetched, evaluated and named a usable proxy; the list keeps its previous members',
  PXC_ERR_UNKNOWN_JOB: 'no download job has that id',
  PXC_ERR_BAD_URL: 'a URL is malformed or its scheme is not http or https',
  PXC_ERR_BAD_DEST: 'a download destination is outside downloads.dir or already exists',
  PXC_ERR_DUPLICATE_INDEX: 'another job already has that index with a different URL',
  PXC_ERR_JOB_STATE: 'the job is in a state that does not allow the operation',
  PXC_ERR_DOWNLOAD_FAILED: 'a download job failed for good: no usable source left, the server refused the range, a size or checksum mismatch (the job\'s error says which)',
  PXC_ERR_NO_SPACE: 'insufficient disk space for a download',
  PXC_ERR_BAD_CA_FILE: 'a --ca-file or downloads.ca_file is unreadable or holds no PEM certificate',
  PXC_ERR_UNKNOWN_APP: 'no app has that name',
  PXC_ERR_UNKNOWN_TARGET: 'the app has no such target',
  PXC_ERR_TARGET_EXISTS: 'target add named a target the app already has',
  PXC_ERR_SERVICE_TARGET: 'target remove named a service\'s instance: deploys add and remove those',
  PXC_ERR_PORT_IN_USE: 'a listen port is already in use',
  PXC_ERR_LISTEN: 'an app port could not be opened (agent start without --allow-partial fails; agent reload applies the rest and names it)',
  PXC_ERR_ENGINE: 'forward.engine is native but the native engine could not be loaded (the message says why)',
  PXC_ERR_UNKNOWN_SERVICE: 'no service has that name',
  PXC_ERR_DEPLOY_IN_PROGRESS: 'a deploy or another operation (restart, scale, stop, …) of the service is already running',
  PXC_ERR_DEPLOY_FAILED: 'a deploy or another service operation failed (e.g. a new instance never became ready; the current one keeps serving)',
  PXC_ERR_NO_RELEASE: 'no such release of the service, no earlier one to roll back to, or none deployed yet',
  PXC_ERR_UNKNOWN_NOTE: 'no note has that id (data proxy: JSON-RPC error -32001)',
  PXC_ERR_BODY_TOO_LARGE: 'a data proxy request body exceeded 1 MiB (HTTP 413)',
  PXC_ERR_SHARD_LAYOUT: 'a data proxy --db directory was created with a different --shards count',
  PXC_ERR_INSTANCE_RPC: 'a service instance or data proxy answered a JSON-RPC call with an error that carries no PXC_ERR_* code of its own',
  PXC_ERR_DATA_PROXY_UNREACHABLE: 'a JSON-RPC call (the notes commands, the agent\'s Ready and ExportShardStats calls) could not reach the data proxy or instance, or it answered outside JSON-RPC',
  PXC_ERR_NOT_IN_FLEET: 'a fleet command was sent to an agent whose config has no cluster key',
  PXC_ERR_FLEET_UNREACHABLE: 'etcd did not answer; the agent keeps serving its last applied fleet config',
  PXC_ERR_FLEET_CONFLICT: 'the fleet config changed since it was read (another write won); read it again and retry',
  PXC_ERR_FLEET_DEPLOY_LOCKED: 'a fleet deploy of the service is already running: its etcd lock is held',
  PXC_ERR_FLEET_DEPLOY_FAILED: 'a fleet deploy stopped at a node whose deploy failed (the message names it)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ProxyctlError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyctlError';
    this.code = code;
  }
}

/** The wire form of an error: what the control socket sends and the CLI receives. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

export function toErrorPayload(err: unknown): ErrorPayload {
  if (err instanceof ProxyctlError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'PXC_ERR_INTERNAL', message };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** A config or params path as an operator writes it (errors name it): `['apps', 2, 'ports', 0]` → `apps[2].ports[0]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out || '(root)';
}
