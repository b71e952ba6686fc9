import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { changed } from '../../src/ui/outcome.js';

export default class ProxyPolicy extends ClientCommand {
  static override summary = 'Show the proxy selection policy, or change it at run time';
  static override description =
    "default: a random member of the active group, then the others shuffled. sharding: rendezvous hashing of the job's sha256 (else URL), so one key always goes to the same healthy proxy. A change is kept across restarts until `proxyctl proxy reset`. A custom policy module (a JS file exporting setPreferredProxy(job) and handleFailure(job, error)) can only be named by proxy.policy in the config file: it runs with the agent's privileges, so the control socket cannot choose one. With --fleet the policy becomes the fleet's, applied by every node.";
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'default or sharding' }),
  };
  static override flags = {
    fleet: Flags.boolean({ description: 'set it on every node of the fleet (written to etcd; the agent must be in a fleet)' }),
  };
  static override examples = ['<%= config.bin %> proxy policy', '<%= config.bin %> proxy policy sharding', '<%= config.bin %> proxy policy sharding --fleet'];

  async run(): Promise<{ policy: string; revision?: number }> {
    const { args, flags } = await this.parse(ProxyPolicy);
    const socket = this.socketPath(flags);
    if (flags.fleet) {
      if (args.name === undefined) this.usage('proxy policy --fleet: NAME is required (fleet status shows what each node runs)');
      const r = await this.call(socket, 'fleet.proxy.policy', { name: args.name });
      this.log(`fleet config revision ${r.revision}: every node applies it`);
      return { policy: args.name, revision: r.revision };
    }
    if (args.name === undefined) {
      const policy = (await this.call(socket, 'proxy.policy', {})) ?? 'default';
      this.log(policy);
      return { policy };
    }
    await this.call(socket, 'proxy.policy', { name: args.name });
    this.log(changed('proxy policy', args.name));
    return { policy: args.name };
  }
}
