import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppReset } from '../../src/forward/commands.js';
import { renderAppReset } from '../../src/ui/render/app.js';

export default class AppResetCommand extends ClientCommand {
  static override summary = 'Drop the run-time target changes of an app: its targets are the config’s again';
  static override description =
    'target add, target remove and target weight are kept in the state DB across reloads and restarts until this command, as proxy set is until proxy reset. Targets it removes stop taking new connections; their open connections continue. Drained or disabled states are not touched.';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
  };
  static override examples = ['<%= config.bin %> app reset web', '<%= config.bin %> app reset web --json'];

  async run(): Promise<AppReset> {
    const { args, flags } = await this.parse(AppResetCommand);
    const r = await this.call(this.socketPath(flags), 'app.reset', { name: args.name });
    this.log(renderAppReset(r));
    return r;
  }
}
