import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TargetChange } from '../../src/forward/commands.js';
import { renderTargetChange } from '../../src/ui/render/target.js';

export default class TargetWeight extends ClientCommand {
  static override summary = 'Set a target’s weight: its share of new connections relative to the other targets';
  static override description = [
    'round-robin interleaves by weight (3:1 goes a a b a, smooth weighted round-robin as nginx and HAProxy do); random picks with probability weight / total; least-conn picks the lowest (active + 1) / weight (HAProxy’s leastconn); sharding gives each target a key share proportional to its weight (weighted rendezvous hashing: a change moves only the keys it must). Weight 0 drains the target: no new connections, open ones continue (HAProxy shows DRAIN).',
    '',
    'Kept in the state DB across reloads and restarts until `app reset APP`; the weight of a service’s instance lasts as long as the instance.',
  ].join('\n');
  static override enableJsonFlag = true;
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
    weight: Args.string({ description: 'weight, 0-256 (config default 1)', required: true }),
  };
  static override examples = ['<%= config.bin %> target weight web 127.0.0.1:5001 3', '<%= config.bin %> target weight web 127.0.0.1:5002 0', '<%= config.bin %> target weight web 127.0.0.1:5001 1 --json'];

  async run(): Promise<TargetChange> {
    const { args, flags } = await this.parse(TargetWeight);
    // Checked here so a bad weight is a usage error (exit 2) like a bad flag; oclif's Args.integer exits 1.
    const weight = /^\d{1,3}$/.test(args.weight) ? Number(args.weight) : NaN;
    if (!(weight >= 0 && weight <= 256)) this.usage(`WEIGHT: must be an integer 0-256, not "${args.weight}"`);
    const r = await this.call(this.socketPath(flags), 'target.weight', { app: args.app, target: args.target, weight });
    this.log(renderTargetChange(r));
    return r;
  }
}
