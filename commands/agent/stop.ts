import { Flags } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { ClientCommand } from '../../src/cli/client-command.js';
import { AgentError, AgentUnreachableError } from '../../src/control/client.js';
import { changed } from '../../src/ui/outcome.js';

/** What `agent stop --json` prints. */
export interface AgentStopped {
  /** stopped: it was running and has exited; not_running: nothing answered on the socket. */
  state: 'stopped' | 'not_running';
  pid: number | null;
  socket: string;
}

export default class AgentStop extends ClientCommand {
  static override summary = 'Stop the agent gracefully and wait until it has exited';
  static override description =
    "Asks the agent to shut down over the socket (apps stop accepting, open app connections get forward.shutdown_grace to finish, services are stopped, state is flushed, the socket file and the state dir's lock released last) and waits for the process to exit. The agent's own stop takes at most forward.shutdown_grace + the longest services[].stop_timeout + 2 s; told --timeout N, it also gives its subsystems no more than N - 1.5 s, so that it is gone within N s (a --timeout shorter than its own stop cuts the grace and SIGKILLs instances rather than leaving the agent running), so the agent and everything it started are gone when this command reports it stopped. With no agent running (nothing listening on the socket, or no socket file) it says `agent: not running` and exits 0, as `systemctl stop` does.";
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> agent stop', '<%= config.bin %> agent stop --timeout 60', '<%= config.bin %> agent stop --json'];
  static override flags = {
    timeout: Flags.integer({ description: 'seconds to wait for the process to exit; the agent is told, and exits within it', default: 30, min: 1 }),
  };

  async run(): Promise<AgentStopped> {
    const { flags } = await this.parse(AgentStop);
    const socket = this.socketPath(flags);
    let pid: number;
    try {
      ({ pid } = await this.call(socket, 'agent.status', {}));
    } catch (err) {
      // Nothing to stop is not a failure (systemctl stop); a socket we may not open still is.
      if (!(err instanceof AgentUnreachableError) || !['ENOENT', 'ECONNREFUSED'].includes((err.cause as NodeJS.ErrnoException | undefined)?.code ?? '')) throw err;
      this.log(changed('agent', `not running (nothing listens on ${socket})`));
      return { state: 'not_running', pid: null, socket };
    }
    await this.call(socket, 'agent.shutdown', { timeout: flags.timeout }).catch((err: unknown) => {
      // An agent from before agent.shutdown took a timeout refuses the param: ask it the old way.
      if (err instanceof AgentError && err.code === 'PXC_ERR_BAD_PARAMS') return this.call(socket, 'agent.shutdown', {});
      throw err;
    });
    const deadline = Date.now() + flags.timeout * 1000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) this.fail(`agent (pid ${pid}) still running after ${flags.timeout} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.log(changed('agent', `stopped (pid ${pid})`));
    return { state: 'stopped', pid, socket };
  }
}

/** True while the process runs; an exited one waiting to be reaped (a zombie) holds nothing and counts as gone. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: kill(0) has the last word
  }
}
