import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './echo-server.js';
import { accepts, hasBinary } from './daemon.js';
import { waitFor } from './wait.js';

/**
 * A real squid forward proxy for tests, in the foreground (-N) with a temp
 * config on a free 127.0.0.1 port: no cache, no DNS or ICP, errors about the
 * origin reported as squid does (503 + `X-Squid-Error: ERR_CONNECT_FAIL 111`).
 * `.ci/run` installs squid; where it is missing, `describe.skipIf(!hasSquid())`.
 */

export interface Squid {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** squid's access log so far. */
  accessLog(): string;
  stop(): Promise<void>;
}

const BIN = process.env.SQUID_BIN ?? 'squid';
export const hasSquid = (): boolean => hasBinary(BIN);

const live = new Set<Squid>();

export async function startSquid(): Promise<Squid> {
  const dir = mkdtempSync(join(tmpdir(), 'pxc-squid-'));
  // As root squid runs as its cache_effective_user, which must write here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const conf = join(dir, 'squid.conf');
  writeFileSync(
    conf,
    [
      `http_port 127.0.0.1:${port}`,
      'http_access allow all',
      'cache deny all',
      'cache_mem 8 MB',
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      `access_log stdio:${dir}/access.log`,
      `coredump_dir ${dir}`,
      'shutdown_lifetime 0 seconds',
      'netdb_filename none',
      'pinger_enable off',
      'icp_port 0',
      'htcp_port 0',
      'connect_retries 0',
      'forward_timeout 5 seconds',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(BIN, ['-N', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  await waitFor(`squid on port ${port}`, async () => {
    if (exited) throw new Error(`squid exited: ${output}`);
    return accepts(port);
  }, { timeoutMs: 15_000 });
  const s: Squid = {
    port,
    url: `http://127.0.0.1:${port}`,
    accessLog: () => {
      try {
        return readFileSync(join(dir, 'access.log'), 'utf8');
      } catch {
        return '';
      }
    },
    stop: async () => {
      live.delete(s);
      if (!exited) child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(hard);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(s);
  return s;
}

/** Stops every squid still running: call from afterEach. */
export async function cleanupSquids(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}
