import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TargetChange } from '../../src/forward/commands.js';
import { renderTargetChange } from '../../src/ui/render/target.js';

export default class TargetDrain extends ClientCommand {
  static override summary = 'Drain a target: no new connections, open ones continue';
  static override description = 'The target stays health-checked; `target enable` puts it back in rotation. Not kept across an agent restart (target weight 0 is).';
  static override enableJsonFlag = true;
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target drain web 127.0.0.1:8081', '<%= config.bin %> target drain web 127.0.0.1:8081 --json'];

  async run(): Promise<TargetChange> {
    const { args, flags } = await this.parse(TargetDrain);
    const r = await this.call(this.socketPath(flags), 'target.drain', { app: args.app, target: args.target });
    this.log(renderTargetChange(r));
    return r;
  }
}
