import { Command, Flags, type Interfaces } from '@oclif/core';
import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, fstatSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveSocketPath, resolveStateDir } from '../../src/config/paths.js';
import { ProxyctlError } from '../../src/errors.js';
import { ensureDir } from '../../src/state/state-dir.js';
import { EXIT_FAILED } from '../../src/cli/exit-codes.js';
import { ownError, printOwnError } from '../../src/cli/client-command.js';

export default class AgentStart extends Command {
  static override summary = 'Run the agent (foreground by default)';
  static override description = `Runs the agent: control socket, upstream proxies, downloads, app proxies and services.
In the foreground it logs to stderr (pino JSON) until SIGTERM/SIGINT or 'proxyctl agent stop'.
With --detach it starts in the background, logging to <state dir>/agent.log, and returns once the socket answers.
With no config file it runs on the embedded defaults (see proxyctl.conf(5)).`;

  static override examples = [
    '<%= config.bin %> agent start',
    '<%= config.bin %> agent start --config /etc/proxyctl.json --detach',
    '<%= config.bin %> agent start --state-dir /tmp/pxc --log-level debug',
    '<%= config.bin %> agent start --allow-partial',
  ];

  static override flags = {
    config: Flags.string({ char: 'c', description: 'config file (JSON) [default: $PROXYCTL_CONFIG, else none: embedded defaults]', env: 'PROXYCTL_CONFIG' }),
    'state-dir': Flags.string({ description: 'state directory [default: $PROXYCTL_STATE_DIR, $XDG_STATE_HOME/proxyctl, ~/.local/state/proxyctl]', env: 'PROXYCTL_STATE_DIR' }),
    socket: Flags.string({ description: 'control socket path [default: $PROXYCTL_SOCKET, else <state dir>/agent.sock]', env: 'PROXYCTL_SOCKET' }),
    'log-level': Flags.string({ description: 'log level, overrides log.level of the config', options: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] }),
    detach: Flags.boolean({ char: 'd', description: 'run in the background; print the pid once the socket answers' }),
    'detach-timeout': Flags.integer({ description: 'seconds --detach waits for the socket', default: 30, min: 1 }),
    'allow-partial': Flags.boolean({ description: 'start even if some app port cannot be opened (it is reported in app info); without it such a port fails the start' }),
  };

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    if (printOwnError(err)) return;
    return super.catch(err);
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentStart);
    const stateDir = resolveStateDir(flags['state-dir']);
    const socketPath = resolveSocketPath({ socket: flags.socket, stateDir });
    const configPath = flags.config ? resolve(flags.config) : null;
    // Before loading any agent code: a state dir that cannot be made fails at once, with its reason.
    try {
      ensureDir(stateDir, 'state dir');
    } catch (err) {
      if (err instanceof ProxyctlError) throw ownError(err.message, EXIT_FAILED);
      throw err;
    }
    if (flags.detach) return this.#detach(stateDir, socketPath, configPath, flags['log-level'], flags['detach-timeout'], flags['allow-partial']);
    const { runAgent } = await import('../../src/agent/main.js');
    try {
      await runAgent({
        configPath,
        stateDir,
        socketPath,
        logLevel: flags['log-level'],
        allowPartial: flags['allow-partial'],
        // src/ui sits above the agent: the layouts talk shares with the CLI come from here.
        talkRenderers: async () => (await import('../../src/ui/render/talk.js')).talkRenderers,
      });
    } catch (err) {
      if (err instanceof ProxyctlError) throw ownError(err.message, EXIT_FAILED);
      throw err;
    }
    // Stopped: everything is closed or was abandoned at the stop deadline, and
    // what an abandoned part still holds must not keep the process alive.
    process.exit(0);
  }

  async #detach(stateDir: string, socketPath: string, configPath: string | null, logLevel: string | undefined, timeoutS: number, allowPartial: boolean): Promise<void> {
    const { callOnce } = await import('../../src/control/client.js');
    // An agent already answering: say so plainly instead of starting a child that fails into the log.
    const running = await callOnce(socketPath, 'agent.pid', {}, { timeoutMs: 1000 }).catch(() => null);
    if (running !== null) throw ownError(`another agent is already running on ${socketPath} (pid ${running}; stop it with 'proxyctl agent stop', or use --socket)`, EXIT_FAILED);
    const logPath = join(stateDir, 'agent.log');
    const log = openSync(logPath, 'a', 0o600);
    // An agent.log made before logs were private: narrow it (it may name URLs and paths).
    if ((fstatSync(log).mode & 0o077) !== 0) fchmodSync(log, 0o600);
    // Where this attempt's lines start: a failure shows only those, not an earlier run's.
    const logStart = fstatSync(log).size;
    const args = [process.argv[1]!, 'agent', 'start', '--state-dir', stateDir, '--socket', socketPath];
    if (configPath) args.push('--config', configPath);
    if (logLevel) args.push('--log-level', logLevel);
    if (allowPartial) args.push('--allow-partial');
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    let exited: number | null = null;
    child.once('exit', (code) => (exited = code ?? 1));
    const deadline = Date.now() + timeoutS * 1000;
    while (Date.now() < deadline) {
      if (exited !== null) {
        const tail = readFrom(logPath, logStart).trim().split('\n').slice(-5).join('\n');
        throw ownError(`agent exited with code ${exited} before its socket answered; ${tail ? `last lines of ${logPath}:\n${tail}` : `nothing in ${logPath}`}`, EXIT_FAILED);
      }
      try {
        const pid = await callOnce(socketPath, 'agent.pid', {}, { timeoutMs: 1000 });
        if (pid === child.pid) {
          child.unref();
          this.log(String(pid));
          return;
        }
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    throw ownError(`agent did not answer on ${socketPath} within ${timeoutS} s; see ${logPath}`, EXIT_FAILED);
  }
}

/** The text of `path` from byte `from` on (its last 64 KiB at most). */
function readFrom(path: string, from: number): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const offset = Math.max(from, size - 65536);
    const buf = Buffer.alloc(Math.max(0, size - offset));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
