import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { changeProxies, fallbackLine } from '../../src/cli/proxy-change.js';
import type { FleetWrite } from '../../src/fleet/store.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';

export default class ProxyFallback extends ClientCommand {
  static override summary = 'Replace the fallback proxies (the last groups) at run time';
  static override description =
    'Same syntax as `proxy set`. When fallback proxies are set, DIRECT is stripped from both lists (as in cvmfs). An empty SPEC ("") removes them. Kept across restarts until `proxyctl proxy reset`. With --fleet they become the fleet\'s fallback proxies, applied by every node.';
  static override args = {
    spec: Args.string({ description: 'proxy string of the fallback groups, "" for none', required: true }),
  };
  static override flags = {
    fleet: Flags.boolean({ description: 'set them on every node of the fleet (written to etcd; the agent must be in a fleet)' }),
  };
  static override enableJsonFlag = true;
  static override examples = [`<%= config.bin %> proxy fallback 'http://fallback.example.org:3128'`, `<%= config.bin %> proxy fallback ''`, `<%= config.bin %> proxy fallback 'http://fallback.example.org:3128' --fleet`];

  async run(): Promise<FleetWrite | ProxyInfo> {
    const { args, flags } = await this.parse(ProxyFallback);
    if (flags.fleet) {
      const r = await this.call(this.socketPath(flags), 'fleet.proxy.fallback', { spec: args.spec });
      this.log(`fleet config revision ${r.revision}: every node applies it`);
      return r;
    }
    const info = await this.withClient(this.socketPath(flags), (client) => changeProxies(client, (c) => c.call('proxy.fallback', { spec: args.spec })));
    this.log(fallbackLine(info));
    return info;
  }
}
