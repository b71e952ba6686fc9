import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';

export default class TargetDisable extends ClientCommand {
  static override summary = 'Disable a target: no new connections and no health checks; open ones continue';
  static override description = 'Use for maintenance; `target enable` resumes checks and traffic.';
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target disable web 127.0.0.1:8081'];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(TargetDisable);
    await this.call(this.socketPath(flags), 'target.disable', { app: args.app, target: args.target });
    this.log(`${args.target} of ${args.app}: disabled (no new connections, no health checks)`);
  }
}
