import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where the agent keeps its state and socket. The agent and every client
 * command resolve these the same way, so they agree with no flags at all.
 * Imported by the CLI: keep it free of heavy imports.
 */

export interface PathOptions {
  stateDir?: string | undefined;
  socket?: string | undefined;
}

export function resolveStateDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.PROXYCTL_STATE_DIR) return resolve(env.PROXYCTL_STATE_DIR);
  if (env.XDG_STATE_HOME) return join(resolve(env.XDG_STATE_HOME), 'proxyctl');
  return join(homedir(), '.local', 'state', 'proxyctl');
}

export function resolveSocketPath(opts: PathOptions = {}, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket) return resolve(opts.socket);
  if (env.PROXYCTL_SOCKET) return resolve(env.PROXYCTL_SOCKET);
  return join(resolveStateDir(opts.stateDir, env), 'agent.sock');
}

/** sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
