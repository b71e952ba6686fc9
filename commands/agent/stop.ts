import { Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';

export default class AgentStop extends ClientCommand {
  static override summary = 'Stop the agent gracefully and wait until it has exited';
  static override description = 'Asks the agent to shut down over the socket (apps stop accepting, services are stopped, state is flushed, the socket file removed) and waits for the process to exit.';
  static override examples = ['<%= config.bin %> agent stop', '<%= config.bin %> agent stop --timeout 60'];
  static override flags = {
    timeout: Flags.integer({ description: 'seconds to wait for the process to exit', default: 30, min: 1 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentStop);
    const socket = this.socketPath(flags);
    const { pid } = await this.call(socket, 'agent.status', {});
    await this.call(socket, 'agent.shutdown', {});
    const deadline = Date.now() + flags.timeout * 1000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) this.fail(`agent (pid ${pid}) still running after ${flags.timeout} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.log(`agent (pid ${pid}) stopped`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
