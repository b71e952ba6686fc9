import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TargetChange } from '../../src/forward/commands.js';
import { renderTargetChange } from '../../src/ui/render/target.js';

export default class TargetRemove extends ClientCommand {
  static override summary = 'Remove a target from an app at run time: no new connections, open ones continue';
  static override description =
    'Works on targets from the config and from `target add`; a service’s instances are its deploys’ to add and remove. Kept in the state DB across reloads and restarts until `app reset APP`. (HAProxy’s del server wants the server in maintenance with no session first; here the open connections simply run to their end, as when a reload drops a target.)';
  static override enableJsonFlag = true;
  static override args = {
    app: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
    target: Args.string({ description: 'target as host:port, as `proxyctl app info APP` lists it', required: true }),
  };
  static override examples = ['<%= config.bin %> target remove web 127.0.0.1:5003', '<%= config.bin %> target remove web 127.0.0.1:5003 --json'];

  async run(): Promise<TargetChange> {
    const { args, flags } = await this.parse(TargetRemove);
    const r = await this.call(this.socketPath(flags), 'target.remove', { app: args.app, target: args.target });
    this.log(renderTargetChange(r));
    return r;
  }
}
