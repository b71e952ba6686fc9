import { resolve } from 'node:path';
import { packageVersion } from '../../version.js';
import { DataProxyServer } from './server.js';

export interface RunDataProxyOptions {
  host: string;
  port: number;
  dbDir: string;
  shards: number;
  callDelayMs?: number;
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
  try {
    let addr;
    try {
      addr = await server.listen();
    } catch (err) {
      await server.close();
      throw err;
    }
    opts.log(`data-proxy pid ${process.pid} listening on http://${addr.address}:${addr.port}/rpc db ${dbDir} shards ${opts.shards}`);
    const signal = await stopped;
    const started = Date.now();
    await server.close();
    opts.log(`data-proxy pid ${process.pid} stopped on ${signal} after draining in ${Date.now() - started} ms`);
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
}
