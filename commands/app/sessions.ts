import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppSessions } from '../../src/forward/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderSessions } from '../../src/ui/render/app.js';

export default class AppSessionsCommand extends ClientCommand {
  static override summary = 'List the open connections of an app: client, target, state, age, bytes each way';
  static override description =
    "HAProxy's `show sess` for one app, oldest connection first. state is connecting (no target yet), open, or half-closed (one side sent its FIN). in: bytes from the client to the target; out: back. At most --limit rows; the line under the table says when more are open.";
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
  };
  static override flags = {
    limit: Flags.integer({ description: 'list at most this many connections (oldest first)', default: 1000, min: 1, max: 100_000 }),
  };
  static override examples = ['<%= config.bin %> app sessions web', '<%= config.bin %> app sessions web --limit 20', '<%= config.bin %> app sessions web --json'];

  async run(): Promise<AppSessions> {
    const { args, flags } = await this.parse(AppSessionsCommand);
    const r = await this.call(this.socketPath(flags), 'app.sessions', { name: args.name, limit: flags.limit });
    const c = makeChalk();
    this.log(renderSessions(r, (s) => stateColour(c, s)));
    return r;
  }
}
