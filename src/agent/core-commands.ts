import { z } from 'zod';
import { ProxyctlError } from '../errors.js';
import { defineCommand, type AnyCommand } from '../control/registry.js';
import type { FleetAgentInfo } from '../fleet/api.js';
import type { StatsSnapshot } from '../stats/registry.js';

/** What the agent itself exposes: identity, status, reload, stats, shutdown, help. */
export interface AgentInfo {
  pid: number;
  version: string;
  uptime_s: number;
  socket: string;
  state_dir: string;
  config_path: string | null;
  /** The app proxies' data plane: native or node. */
  engine: string | null;
  /** Where Prometheus metrics are served, `http://HOST:PORT/metrics` with the bound port (metrics.listen port 0 resolved); null when off or not listening. */
  metrics: string | null;
  /** The fleet this agent is in (its etcd connection, the config revision it runs); absent without `cluster`. */
  fleet?: FleetAgentInfo;
}

export interface ReloadResult {
  config_path: string | null;
  reloaded: boolean;
}

export interface AgentControl {
  info(): AgentInfo;
  reload(): Promise<ReloadResult>;
  stats(): StatsSnapshot;
  /** `timeoutS`: how long the caller waits for the process to be gone (agent stop --timeout). */
  shutdown(timeoutS?: number): void;
  /** Every registered command, for `help`. */
  commands(): AnyCommand[];
}

export interface HelpEntry {
  command: string;
  method: string;
  usage: string;
  summary: string;
}

export function coreCommands(agent: AgentControl) {
  const none = z.object({}).strict();
  return [
    defineCommand({
      method: 'agent.help',
      talk: 'help',
      summary: 'list the control commands',
      params: none,
      handler: (): HelpEntry[] => agent.commands().map((c) => ({ command: c.talk, method: c.method, usage: c.usage ?? '', summary: c.summary })),
      renderText: (entries) => {
        const width = Math.max(...entries.map((e) => `${e.command} ${e.usage}`.trim().length));
        return entries.map((e) => `${`${e.command} ${e.usage}`.trim().padEnd(width)}  ${e.summary}`).join('\n');
      },
    }),
    defineCommand({ method: 'agent.version', talk: 'version', summary: 'agent version', params: none, handler: () => agent.info().version }),
    defineCommand({ method: 'agent.pid', talk: 'pid', summary: 'agent process id', params: none, handler: () => agent.info().pid }),
    defineCommand({ method: 'agent.uptime', talk: 'uptime', summary: 'seconds since the agent started', params: none, handler: () => agent.info().uptime_s }),
    defineCommand({ method: 'agent.status', talk: 'status', summary: 'pid, version, uptime, socket, state dir, config path, data-plane engine, metrics address', params: none, handler: () => agent.info() }),
    defineCommand({
      method: 'agent.reload',
      talk: 'reload',
      summary: 're-read the config file; on error the running config stays',
      params: none,
      handler: async (): Promise<ReloadResult> => agent.reload(),
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'agent.stats',
      talk: 'stats',
      summary: 'every counter, gauge and rate as JSON',
      params: none,
      handler: (): StatsSnapshot => agent.stats(),
      renderText: (s) => JSON.stringify(s, null, 2),
    }),
    defineCommand({
      method: 'agent.shutdown',
      talk: 'shutdown',
      usage: '[TIMEOUT]',
      summary: 'stop the agent gracefully; TIMEOUT: seconds the caller waits, the agent is gone by then',
      params: z
        .object({
          timeout: z.number().positive().optional().describe('seconds the caller waits for the process to exit; the agent shortens its stop to fit (default: its own budget)'),
        })
        .strict(),
      fromTalk: (args) => {
        if (args.length > 1) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'shutdown: usage: shutdown [TIMEOUT]');
        return args.length === 0 ? {} : { timeout: Number(args[0]) };
      },
      handler: ({ timeout }): null => {
        // Answer first, then stop: the reply must reach the caller.
        setImmediate(() => agent.shutdown(timeout));
        return null;
      },
    }),
  ] as const;
}
