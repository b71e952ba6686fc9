import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppInfo } from '../../src/forward/app.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderAppInfo } from '../../src/ui/render/app.js';

export default class AppInfoCommand extends ClientCommand {
  static override summary = 'Show one app proxy: ports, targets with health, state and weight, connections, bytes, failures, Foo counters';
  static override description =
    'health is up (last check passed), down, or unknown: no check result yet (a target from the config or target add until its first check, one interval after it was added; a disabled one). An unknown target takes traffic, and its first check decides at once. source: static (config), runtime (target add), dynamic (a service’s instance).';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
  };
  static override examples = ['<%= config.bin %> app info echo', '<%= config.bin %> app info echo --json'];

  async run(): Promise<AppInfo> {
    const { args, flags } = await this.parse(AppInfoCommand);
    const a = await this.call(this.socketPath(flags), 'app.info', { name: args.name });
    const c = makeChalk();
    this.log(renderAppInfo(a, (s) => stateColour(c, s)));
    return a;
  }
}
