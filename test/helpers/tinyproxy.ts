import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './echo-server.js';
import { accepts, hasBinary } from './daemon.js';
import { waitFor } from './wait.js';

/**
 * A real Debian forward proxy (tinyproxy) for tests, on a free 127.0.0.1 port
 * with a temp config, in the foreground (-d) so the test owns the process.
 * `.ci/run` installs tinyproxy; where it is missing, `describe.skipIf(!hasTinyproxy())`.
 */

export interface Tinyproxy {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** What tinyproxy logged so far (its log file is stderr-like; LogLevel Info). */
  log(): string;
  stop(): Promise<void>;
}

const BIN = process.env.TINYPROXY_BIN ?? 'tinyproxy';
export const hasTinyproxy = (): boolean => hasBinary(BIN);

const live = new Set<Tinyproxy>();

export async function startTinyproxy(): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'pxc-tinyproxy-'));
  const port = await freePort();
  const logFile = join(dir, 'tinyproxy.log');
  const conf = join(dir, 'tinyproxy.conf');
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    conf,
    [
      // As root tinyproxy drops to User/Group; nobody can still write its log in a 0777 dir.
      ...(asRoot ? ['User nobody', 'Group nogroup'] : []),
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      `LogFile "${logFile}"`,
      'LogLevel Info',
      'MaxClients 50',
      'Allow 127.0.0.1',
      'DisableViaHeader No',
      '',
    ].join('\n'),
  );
  spawnSync('chmod', ['0777', dir]);
  const child: ChildProcess = spawn(BIN, ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  await waitFor(`tinyproxy on port ${port}`, async () => {
    if (exited) throw new Error(`tinyproxy exited: ${output}`);
    return accepts(port);
  }, { timeoutMs: 30_000 });
  const tp: Tinyproxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => {
      try {
        return spawnSync('cat', [logFile], { encoding: 'utf8' }).stdout + output;
      } catch {
        return output;
      }
    },
    stop: async () => {
      live.delete(tp);
      if (!exited) child.kill('SIGTERM');
      await exit;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(tp);
  return tp;
}

/** Stops every tinyproxy still running: call from afterEach. */
export async function cleanupTinyproxies(): Promise<void> {
  await Promise.all([...live].map((t) => t.stop()));
}
