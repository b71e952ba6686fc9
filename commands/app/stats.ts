import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppStats } from '../../src/forward/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderStatsTable } from '../../src/ui/render/app.js';

export default class AppStatsCommand extends ClientCommand {
  static override summary = "Show app proxy stats as HAProxy's `show stat`: a FRONTEND row, a row per target, a BACKEND row";
  static override description = [
    "--csv prints HAProxy 2.6's CSV (the `# pxname,svname,…` header, every column in HAProxy's order, a comma ending each line) for tools that already read it; fields proxyctl does not have (queues, HTTP, maxima, SSL) are empty. --json gives the rows as objects with HAProxy's field names, only the fields proxyctl fills.",
    '',
    'svname of a target is its address. status: UP, DOWN, MAINT (disabled), DRAIN (draining or weight 0); "UP 2/3" and "DOWN 1/2" while checks move a target toward the other state; a target without a check result yet is "UP 1/<fall>" with check_status INI, as HAProxy shows a server it has not checked. dcon (FRONTEND) counts clients refused over max_connections or for want of a file descriptor; algo of sharding is source.',
  ].join('\n');
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'app name (default: every app)', required: false }),
  };
  static override flags = {
    csv: Flags.boolean({ description: "HAProxy's show stat CSV", default: false }),
  };
  static override examples = ['<%= config.bin %> app stats', '<%= config.bin %> app stats web --csv', '<%= config.bin %> app stats web --csv | cut -d, -f1,2,18,19', '<%= config.bin %> app stats --json'];

  async run(): Promise<AppStats> {
    const { args, flags } = await this.parse(AppStatsCommand);
    const r = await this.call(this.socketPath(flags), 'app.stats', { ...(args.name === undefined ? {} : { name: args.name }), csv: flags.csv });
    if (r.csv !== undefined) process.stdout.write(r.csv);
    else {
      const c = makeChalk();
      // "UP 2/3": the word is coloured, the progress toward the other state is not.
      const paint = (status: string) => status.replace(/^\S+/, (w) => stateColour(c, w));
      this.log(renderStatsTable(r.rows, paint));
    }
    return r;
  }
}
