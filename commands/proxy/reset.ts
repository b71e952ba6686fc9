import { ClientCommand } from '../../src/cli/client-command.js';
import { changeProxies, groupsLine } from '../../src/cli/proxy-change.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';

export default class ProxyReset extends ClientCommand {
  static override summary = 'Drop run-time proxy changes (set, fallback, policy): back to the config';
  static override description = 'Prints the groups now in force; --json prints the list as `proxy info --json` does.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy reset', '<%= config.bin %> proxy reset --json'];

  async run(): Promise<ProxyInfo> {
    const { flags } = await this.parse(ProxyReset);
    const info = await this.withClient(this.socketPath(flags), (client) => changeProxies(client, (c) => c.call('proxy.reset', {})));
    this.log(groupsLine(info));
    return info;
  }
}
