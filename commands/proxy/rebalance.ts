import { ClientCommand } from '../../src/cli/client-command.js';
import { activeLine, changeProxies } from '../../src/cli/proxy-change.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';

export default class ProxyRebalance extends ClientCommand {
  static override summary = 'Re-draw the random proxy orders, clear failure marks, and look up addresses and PAC files again';
  static override description = 'Every proxy counts as healthy again (a cleared mark shows as unknown until its next check) and every job picks its member afresh at its next request. The members\' host names are looked up again, and with `auto` in the proxy string the PAC files are resolved again; a PAC that fails is reported (exit 1) after the rest is done, and the auto groups keep their members. Prints the group now active; --json prints the list as `proxy info --json` does.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy rebalance', '<%= config.bin %> proxy rebalance --json'];

  async run(): Promise<ProxyInfo> {
    const { flags } = await this.parse(ProxyRebalance);
    const info = await this.withClient(this.socketPath(flags), (client) => changeProxies(client, (c) => c.call('proxy.rebalance', {})));
    this.log(activeLine(info));
    return info;
  }
}
