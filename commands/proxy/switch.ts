import { ClientCommand } from '../../src/cli/client-command.js';
import { activeLine, changeProxies } from '../../src/cli/proxy-change.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';

export default class ProxySwitch extends ClientCommand {
  static override summary = 'Make the next proxy group active (talk: proxy group switch)';
  static override description = 'Wraps around after the last group. The switch is logged with its reason and moves the list revision. Prints the group now active; --json prints the list as `proxy info --json` does.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy switch', '<%= config.bin %> proxy switch --json'];

  async run(): Promise<ProxyInfo> {
    const { flags } = await this.parse(ProxySwitch);
    const info = await this.withClient(this.socketPath(flags), (client) => changeProxies(client, (c) => c.call('proxy.switch', {})));
    this.log(activeLine(info));
    return info;
  }
}
