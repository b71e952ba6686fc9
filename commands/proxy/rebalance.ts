import { ClientCommand } from '../../src/cli/client-command.js';
import { activeLine, changeProxies } from '../../src/cli/proxy-change.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';

export default class ProxyRebalance extends ClientCommand {
  static override summary = 'Re-draw the random proxy orders and clear failure marks';
  static override description = 'Every proxy counts as healthy again and every job picks its member afresh at its next request. Prints the group now active; --json prints the list as `proxy info --json` does.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy rebalance', '<%= config.bin %> proxy rebalance --json'];

  async run(): Promise<ProxyInfo> {
    const { flags } = await this.parse(ProxyRebalance);
    const info = await this.withClient(this.socketPath(flags), (client) => changeProxies(client, (c) => c.call('proxy.rebalance', {})));
    this.log(activeLine(info));
    return info;
  }
}
