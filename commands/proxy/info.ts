import { ClientCommand } from '../../src/cli/client-command.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';

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
    this.log('Load-balance groups:');
    for (const g of info.groups) {
      const members = g.proxies.map((p) => (p.address === 'DIRECT' ? 'DIRECT' : `${p.address} (${stateColour(c, p.healthy ? 'healthy' : 'unhealthy')})`));
      this.log(`[${g.index}] ${members.join(', ')}`);
    }
    this.log(`Active proxy: [${info.active_group}] ${c.bold(info.active_proxy)}`);
    if (info.first_fallback_group !== null) this.log(`First fallback group: [${info.first_fallback_group}]`);
    this.log(`Revision: ${info.revision}`);
    this.log(`Policy: ${info.policy}`);
    return info;
  }
}
