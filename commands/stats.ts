import { ClientCommand } from '../src/cli/client-command.js';
import type { StatsSnapshot } from '../src/stats/registry.js';
import { flatten } from '../src/ui/format.js';
import { renderTable } from '../src/ui/table.js';

export default class Stats extends ClientCommand {
  static override summary = 'Show every counter, gauge and rate of the agent';
  static override description = 'Control socket, process, upstream proxies, downloads, apps, services and shards. The JSON form (--json) nests by subsystem, as SIGUSR1 prints it.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> stats', '<%= config.bin %> stats --json'];

  async run(): Promise<StatsSnapshot> {
    const { flags } = await this.parse(Stats);
    const stats = await this.call(this.socketPath(flags), 'agent.stats', {});
    const rows = Object.entries(flatten(stats)).map(([k, v]) => [k, v === null ? '-' : String(v)]);
    this.log(renderTable(['stat', 'value'], rows));
    return stats;
  }
}
