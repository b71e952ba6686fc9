import { ClientCommand } from '../../src/cli/client-command.js';

export default class AgentReload extends ClientCommand {
  static override summary = 'Re-read the config file; on error print every problem and keep the running config';
  static override examples = ['<%= config.bin %> agent reload'];

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentReload);
    const r = await this.call(this.socketPath(flags), 'agent.reload', {});
    this.log(r.config_path ? `reloaded ${r.config_path}` : 'reloaded (no config file: embedded defaults)');
  }
}
