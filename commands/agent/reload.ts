import { ClientCommand } from '../../src/cli/client-command.js';
import type { Methods } from '../../src/control/methods.js';
import { changed } from '../../src/ui/outcome.js';

export default class AgentReload extends ClientCommand {
  static override summary = 'Re-read the config file; on error print every problem and keep the running config';
  static override description = 'Prints `agent: reloaded PATH`; --json prints what the socket returned.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> agent reload', '<%= config.bin %> agent reload --json'];

  async run(): Promise<Methods['agent.reload']['result']> {
    const { flags } = await this.parse(AgentReload);
    const r = await this.call(this.socketPath(flags), 'agent.reload', {});
    this.log(changed('agent', r.config_path ? `reloaded ${r.config_path}` : 'reloaded (no config file: embedded defaults)'));
    return r;
  }
}
