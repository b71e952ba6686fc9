import { destination, pino, type Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import { Agent } from './agent.js';

export interface RunAgentOptions {
  configPath: string | null;
  stateDir: string;
  socketPath: string;
  logLevel: string | undefined;
  /** Serve even if some app port cannot be opened (agent start --allow-partial). */
  allowPartial?: boolean;
}

/** Builds the agent's logger: pino on stderr, synchronous so nothing is lost at exit. */
function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, destination({ fd: 2, sync: true }));
}

/**
 * Runs the agent in the foreground until SIGTERM, SIGINT or a `shutdown`
 * command; resolves once everything is closed and the socket file is gone.
 * SIGHUP reloads the config; SIGUSR1 writes the stats JSON to stdout.
 */
export async function runAgent(opts: RunAgentOptions): Promise<void> {
  const config = await loadConfig(opts.configPath);
  const logger = createLogger(opts.logLevel ?? config.log.level);
  let stopping: Promise<void> | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'agent stopping');
      await agent?.close();
      logger.info('agent stopped');
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
      onShutdownRequest: () => void stop('shutdown command'),
      allowPartial: opts.allowPartial ?? false,
    });
  } catch (err) {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onTerm);
    throw err;
  }
  const started = agent;
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
