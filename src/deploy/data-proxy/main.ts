import { resolve } from 'node:path';
import { packageVersion } from '../../version.js';
import { DataProxyServer } from './server.js';

export interface RunDataProxyOptions {
  host: string;
  port: number;
  dbDir: string;
  shards: number;
  callDelayMs?: number;
  /**
   * The agent that launched this process: when it is gone (SIGKILLed, so it could
   * not stop its instances) the data proxy stops as on SIGTERM instead of
   * lingering as an orphan on its port. Checked every second.
   */
  agentPid?: number;
  /** One line at start and one at stop (stdout). */
  log: (line: string) => void;
  /** Internal errors, one line each (stderr). */
  logError: (line: string) => void;
}

/**
 * Runs one data proxy process until SIGTERM or SIGINT, then stops gracefully
 * (DataProxyServer.close) and resolves. Logs exactly one line at start (with
 * the bound port: `--port 0` picks one) and one at stop; nothing per request.
 */
export async function runDataProxy(opts: RunDataProxyOptions): Promise<void> {
  const dbDir = resolve(opts.dbDir);
  const server = new DataProxyServer({
    host: opts.host,
    port: opts.port,
    dbDir,
    shards: opts.shards,
    version: packageVersion(),
    ...(opts.callDelayMs ? { callDelayMs: opts.callDelayMs } : {}),
    onInternalError: (err) => opts.logError(`data-proxy pid ${process.pid}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  });
  let stop!: (signal: string) => void;
  const stopped = new Promise<string>((r) => (stop = r));
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  let watch: NodeJS.Timeout | undefined;
  try {
    let addr;
    try {
      addr = await server.listen();
    } catch (err) {
      await server.close();
      throw err;
    }
    opts.log(`data-proxy pid ${process.pid} listening on http://${addr.address}:${addr.port}/rpc db ${dbDir} shards ${opts.shards}`);
    if (opts.agentPid !== undefined) {
      const agentPid = opts.agentPid;
      watch = setInterval(() => {
        if (!processExists(agentPid)) stop(`the exit of its agent (pid ${agentPid})`);
      }, 1000);
      watch.unref();
    }
    const signal = await stopped;
    const started = Date.now();
    await server.close();
    opts.log(`data-proxy pid ${process.pid} stopped on ${signal} after draining in ${Date.now() - started} ms`);
  } finally {
    clearInterval(watch);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
}

/** False only when no process has that pid (EPERM means one exists, owned by someone else). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
