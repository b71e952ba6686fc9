import { destination, pino, type Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { TalkRenderers } from '../control/registry.js';
import { prettyOptions } from './log-format.js';
import { Agent } from './agent.js';
import { stopBudgetMs } from './shutdown.js';

export interface RunAgentOptions {
  configPath: string | null;
  stateDir: string;
  socketPath: string;
  logLevel: string | undefined;
  /** Serve even if some app port cannot be opened (agent start --allow-partial). */
  allowPartial?: boolean;
  /** The talk layouts shared with the CLI (src/ui/render/talk.ts), from the entry point above src/ui; loaded at the first talk reply. */
  talkRenderers?: () => Promise<TalkRenderers>;
}

/**
 * Builds the agent's logger: pino on stderr, synchronous so nothing is lost
 * at exit; one pretty line per entry when stderr is a terminal (JSON
 * otherwise, e.g. into agent.log, where `proxyctl agent logs` prettifies it).
 */
async function createLogger(level: string): Promise<Logger> {
  if (process.stderr.isTTY) {
    const { build } = await import('pino-pretty');
    return pino({ level, base: { pid: process.pid } }, build({ ...prettyOptions(!process.env.NO_COLOR), destination: 2, sync: true }));
  }
  return pino({ level, base: { pid: process.pid } }, destination({ fd: 2, sync: true }));
}

/** How long after its own stop deadline the process is cut off, should a stop step escape the deadline. */
const WATCHDOG_SLACK_MS = 2000;

/**
 * Runs the agent in the foreground until SIGTERM, SIGINT or a `shutdown`
 * command; resolves once everything is closed or abandoned (see
 * shutdown.ts) and the socket file and state-dir lock are released. The
 * caller must then exit the process: an abandoned subsystem may still hold
 * handles that would keep it alive. SIGHUP reloads the config; SIGUSR1
 * writes the stats JSON to stdout.
 */
export async function runAgent(opts: RunAgentOptions): Promise<void> {
  const config = await loadConfig(opts.configPath);
  const logger = await createLogger(opts.logLevel ?? config.log.level);
  let stopping: Promise<void> | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  /** A signal that came while the agent was still starting: acted on once it has started. */
  let stopWhenStarted: { reason: string; timeoutS?: number } | undefined;
  const stop = (reason: string, timeoutS?: number): Promise<void> | undefined => {
    if (!agent) {
      stopWhenStarted ??= { reason, timeoutS };
      return undefined;
    }
    stopping ??= (async () => {
      const budgetMs = stopBudgetMs(agent?.config ?? config, timeoutS);
      logger.info({ reason, budget_ms: budgetMs }, 'agent stopping');
      // Last resort: a stop step that escapes its deadline must not keep the process (and what it holds) alive.
      setTimeout(() => {
        logger.fatal({ budget_ms: budgetMs }, 'agent stop overran its deadline; exiting now');
        process.exit(1);
      }, budgetMs + WATCHDOG_SLACK_MS).unref();
      const outcomes = (await agent?.close(budgetMs)) ?? [];
      const abandoned = outcomes.filter((o) => o.result === 'abandoned').map((o) => o.name);
      logger.info(abandoned.length ? { abandoned } : {}, 'agent stopped');
      resolveDone();
    })();
    return stopping;
  };

  let agent: Agent | undefined;
  const onTerm = (sig: NodeJS.Signals) => void stop(sig);
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  try {
    agent = await Agent.start({
      config,
      configPath: opts.configPath,
      stateDir: opts.stateDir,
      socketPath: opts.socketPath,
      logger,
      onShutdownRequest: (timeoutS) => void stop('shutdown command', timeoutS),
      allowPartial: opts.allowPartial ?? false,
      ...(opts.talkRenderers ? { talkRenderers: opts.talkRenderers } : {}),
    });
  } catch (err) {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onTerm);
    throw err;
  }
  const started = agent;
  if (stopWhenStarted) void stop(stopWhenStarted.reason, stopWhenStarted.timeoutS);
  const onHup = () => {
    started.reload().catch(() => undefined); // reload() logs every problem itself
  };
  const onUsr1 = () => {
    process.stdout.write(JSON.stringify(started.stats.snapshot()) + '\n');
  };
  process.on('SIGHUP', onHup);
  process.on('SIGUSR1', onUsr1);
  await done;
  for (const [sig, fn] of [['SIGTERM', onTerm], ['SIGINT', onTerm], ['SIGHUP', onHup], ['SIGUSR1', onUsr1]] as const) process.off(sig, fn);
}
