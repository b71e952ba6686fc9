import { ClientCommand } from '../../src/cli/client-command.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderProxyInfo } from '../../src/ui/render/proxy.js';

export default class ProxyInfoCommand extends ClientCommand {
  static override summary = 'Show the upstream proxy groups, the active proxy, revision and policy';
  static override description =
    'Layout as cvmfs_talk "proxy info": one line per load-balance group, each member with its state (unknown until its first check, healthy, unhealthy) and the addresses its host name resolved to (looked up once, again on `proxy rebalance`), then the member actually in use. On a later group, the seconds before reset_after returns to group 0. With `auto` in the proxy string, the PAC file the auto groups came from, what FindProxyForURL answered, and the last refresh error. With --json: {revision, policy, active_group, active_proxy, reset_in_s, pac, groups: [{index, fallback, pac, healthy, proxies: [{address, state, healthy, addresses, address_error, last_check, latency_ms, failures}]}]}.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy info', '<%= config.bin %> proxy info --json'];

  async run(): Promise<ProxyInfo> {
    const { flags } = await this.parse(ProxyInfoCommand);
    const info = await this.call(this.socketPath(flags), 'proxy.info', {});
    const c = makeChalk();
    this.log(renderProxyInfo(info, (s) => stateColour(c, s), (s) => c.bold(s)));
    return info;
  }
}
