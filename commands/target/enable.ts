import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TargetChange } from '../../src/forward/commands.js';
import { renderTargetChange } from '../../src/ui/render/target.js';

export default class TargetEnable extends ClientCommand {
  static override summary = 'Put a drained or disabled target back into rotation';
  static override description = 'New connections may use the target again unless its health checks say down. A target enabled after disable has health unknown until its next check, and takes traffic meanwhile.';
  static override enableJsonFlag = true;
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target enable web 127.0.0.1:8081', '<%= config.bin %> target enable web 127.0.0.1:8081 --json'];

  async run(): Promise<TargetChange> {
    const { args, flags } = await this.parse(TargetEnable);
    const r = await this.call(this.socketPath(flags), 'target.enable', { app: args.app, target: args.target });
    this.log(renderTargetChange(r));
    return r;
  }
}
