import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';

export default class TargetEnable extends ClientCommand {
  static override summary = 'Put a drained or disabled target back into rotation';
  static override description = 'New connections may use the target again once it passes health checks.';
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target enable web 127.0.0.1:8081'];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(TargetEnable);
    await this.call(this.socketPath(flags), 'target.enable', { app: args.app, target: args.target });
    this.log(`${args.target} of ${args.app}: enabled`);
  }
}
