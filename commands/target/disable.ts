import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TargetChange } from '../../src/forward/commands.js';
import { renderTargetChange } from '../../src/ui/render/target.js';

export default class TargetDisable extends ClientCommand {
  static override summary = 'Disable a target: no new connections and no health checks; open ones continue';
  static override description = 'Use for maintenance (HAProxy: MAINT); `target enable` resumes checks and traffic. Its health shows unknown while its checks are stopped.';
  static override enableJsonFlag = true;
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target disable web 127.0.0.1:8081', '<%= config.bin %> target disable web 127.0.0.1:8081 --json'];

  async run(): Promise<TargetChange> {
    const { args, flags } = await this.parse(TargetDisable);
    const r = await this.call(this.socketPath(flags), 'target.disable', { app: args.app, target: args.target });
    this.log(renderTargetChange(r));
    return r;
  }
}
