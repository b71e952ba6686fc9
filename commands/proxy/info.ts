import { ClientCommand } from '../../src/cli/client-command.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderProxyInfo } from '../../src/ui/render/proxy.js';

export default class ProxyInfoCommand extends ClientCommand {
  static override summary = 'Show the upstream proxy groups, the active proxy, revision and policy';
  static override description =
    'Layout as cvmfs_talk "proxy info": one line per load-balance group, then the member actually in use. With --json: {revision, policy, active_group, active_proxy, groups: [{index, fallback, healthy, proxies: [{address, healthy, last_check, latency_ms, failures}]}]}.';
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
