import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TargetChange } from '../../src/forward/commands.js';
import { renderTargetChange } from '../../src/ui/render/target.js';

export default class TargetAdd extends ClientCommand {
  static override summary = 'Add a target to an app at run time';
  static override description = [
    'The target takes new connections at once, with health unknown until its first check (one health.interval later): like HAProxy, an unchecked target takes traffic, and its first check decides (a failure takes it down at once). --weight 0 stages it instead: checked, no traffic until `target weight`.',
    '',
    'Kept in the state DB across reloads and agent restarts until `app reset APP` (as `proxy set` until `proxy reset`). A target the config lists and `target remove` removed comes back with this command.',
  ].join('\n');
  static override enableJsonFlag = true;
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port (IPv6 as [::1]:port)', required: true }),
  };
  static override flags = {
    weight: Flags.integer({ description: 'share of new connections relative to the other targets, 0-256 (0: none yet)', default: 1, min: 0, max: 256 }),
  };
  static override examples = ['<%= config.bin %> target add web 127.0.0.1:5003', '<%= config.bin %> target add web 10.0.0.7:80 --weight 3', '<%= config.bin %> target add web 10.0.0.8:80 --weight 0 --json'];

  async run(): Promise<TargetChange> {
    const { args, flags } = await this.parse(TargetAdd);
    const r = await this.call(this.socketPath(flags), 'target.add', { app: args.app, target: args.target, weight: flags.weight });
    this.log(renderTargetChange(r));
    return r;
  }
}
