import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { ConnectionInfo } from '../../src/forward/engine/types.js';
import { formatBytes, formatDuration } from '../../src/ui/format.js';
import { renderTable } from '../../src/ui/table.js';

export default class AppConnections extends ClientCommand {
  static override summary = 'List the open connections of an app proxy: client, target, state, age, bytes';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
  };
  static override flags = {
    limit: Flags.integer({ description: 'list at most this many', default: 1000, min: 1 }),
  };
  static override examples = ['<%= config.bin %> app connections echo', '<%= config.bin %> app connections echo --limit 20 --json'];

  async run(): Promise<ConnectionInfo[]> {
    const { args, flags } = await this.parse(AppConnections);
    const rows = await this.call(this.socketPath(flags), 'app.connections', { name: args.name, limit: flags.limit });
    if (rows.length === 0) this.log('no connections');
    else
      this.log(
        renderTable(
          ['client', 'target', 'state', 'age', 'in', 'out'],
          rows.map((r) => [r.client, r.target || '-', r.state, formatDuration(Math.round(r.age_ms / 1000)), formatBytes(r.bytes_in), formatBytes(r.bytes_out)]),
        ),
      );
    return rows;
  }
}
