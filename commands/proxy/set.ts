import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { changeProxies, groupsLine } from '../../src/cli/proxy-change.js';
import type { FleetWrite } from '../../src/fleet/store.js';
import { changed } from '../../src/ui/outcome.js';
import { askConfirm, askText } from '../../src/ui/prompt.js';
import type { ProxyInfo } from '../../src/upstream/commands.js';

export default class ProxySet extends ClientCommand {
  static override summary = 'Replace the upstream proxy groups at run time';
  static override description =
    'SPEC is a proxy string as CVMFS_HTTP_PROXY: ";" separates failover groups, "|" load-balanced members, DIRECT means no proxy; DIRECT is a group of its own, written once. `auto` (a group of its own too) stands for the proxies the PAC files of proxy.pac_urls name (default http://wpad/wpad.dat), one failover group per entry of their answer, as cvmfs; when no PAC file answers, the set is refused and the running list stays. The change is stored in the state DB and survives an agent restart until `proxyctl proxy reset`. Without SPEC on a terminal, prompts to edit the current groups; without SPEC and without a terminal it is a usage error. On a terminal the change is confirmed unless --yes (Enter answers No; Ctrl-C at a prompt exits 130 and changes nothing). Prints the groups now in force; --json prints the list as `proxy info --json` does. With --fleet the groups become the fleet\'s proxy document: every node of the fleet applies them (a node where `proxy set` was run without --fleet keeps its own until `proxy reset`).';
  static override args = {
    spec: Args.string({ description: 'proxy string, e.g. "http://a:3128|http://b:3128;DIRECT" (quote it: ";" and "|" are shell syntax)' }),
  };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation on a terminal' }),
    fleet: Flags.boolean({ description: 'set it on every node of the fleet (written to etcd; the agent must be in a fleet)' }),
  };
  static override enableJsonFlag = true;
  static override examples = [
    `<%= config.bin %> proxy set 'http://squid1:3128|http://squid2:3128;DIRECT'`,
    `<%= config.bin %> proxy set DIRECT --yes`,
    `<%= config.bin %> proxy set 'auto;DIRECT' --yes     # proxies from the PAC files, else DIRECT`,
    `<%= config.bin %> proxy set 'http://squid1:3128;DIRECT' --fleet --yes`,
    '<%= config.bin %> proxy set    # on a terminal: edit the groups interactively',
  ];

  async run(): Promise<FleetWrite | ProxyInfo> {
    const { args, flags } = await this.parse(ProxySet);
    const socket = this.socketPath(flags);
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    let spec = args.spec;
    if (spec === undefined) {
      if (!interactive) this.usage('proxy set: missing SPEC (stdin is not a terminal, so there is nothing to prompt); e.g. proxyctl proxy set "http://a:3128|http://b:3128;DIRECT"');
      const current = await this.call(socket, 'proxy.info', {});
      spec = (
        await askText('Proxy groups (";" between groups, "|" between members, DIRECT = no proxy)', {
          initial: current.spec,
          validate: (v) => (v.trim() === '' ? 'enter a proxy string, or DIRECT' : true),
        })
      ).trim();
      if (!flags.yes && !(await this.confirm(current.spec, spec))) return this.unchanged(current);
    } else if (interactive && !flags.yes) {
      const current = await this.call(socket, 'proxy.info', {});
      if (!(await this.confirm(current.spec, spec))) return this.unchanged(current);
    }
    if (flags.fleet) {
      const r = await this.call(socket, 'fleet.proxy.set', { spec });
      this.log(`fleet config revision ${r.revision}: every node applies it`);
      return r;
    }
    const info = await this.withClient(socket, (client) => changeProxies(client, (c) => c.call('proxy.set', { spec })));
    this.log(groupsLine(info));
    return info;
  }

  unchanged(current: ProxyInfo): ProxyInfo {
    this.log(changed('proxy groups', `unchanged, ${current.spec}`));
    return current;
  }

  /** Replacing the groups is destructive: Enter answers No. */
  async confirm(from: string, to: string): Promise<boolean> {
    this.log('New groups:');
    to.split(';').forEach((g, i) => this.log(`  [${i}] ${g.split('|').map((m) => m.trim()).join(', ')}`));
    return askConfirm(`Replace "${from}" with them?`, { destructive: true });
  }
}
