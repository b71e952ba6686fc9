import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';

export default class TargetDrain extends ClientCommand {
  static override summary = 'Drain a target: no new connections, open ones continue';
  static override description = 'The target stays health-checked; `target enable` puts it back in rotation.';
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target drain web 127.0.0.1:8081'];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(TargetDrain);
    await this.call(this.socketPath(flags), 'target.drain', { app: args.app, target: args.target });
    this.log(`${args.target} of ${args.app}: draining (no new connections)`);
  }
}
