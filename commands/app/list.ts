import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppSummary } from '../../src/forward/commands.js';
import { renderTable } from '../../src/ui/table.js';

export default class AppList extends ClientCommand {
  static override summary = 'List the app proxies: protocol, ports, targets up/total, active connections, request rate';
  static override description = 'targets up counts targets that pass health checks and are enabled. req/s is the Foo REQ rate over the last second (foo apps only).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> app list', '<%= config.bin %> app list --json'];

  async run(): Promise<AppSummary[]> {
    const { flags } = await this.parse(AppList);
    const apps = await this.call(this.socketPath(flags), 'app.list', {});
    if (apps.length === 0) this.log('no apps configured');
    else
      this.log(
        renderTable(
          ['name', 'protocol', 'ports', 'targets', 'active', 'total', 'req/s'],
          apps.map((a) => [
            a.name,
            a.protocol,
            a.ports_listening === a.ports.length ? a.ports.join(',') : `${a.ports.join(',')} (${a.ports.length - a.ports_listening} not listening)`,
            `${a.targets_up}/${a.targets_total}`,
            a.active,
            a.total,
            a.request_rate_1s ?? '-',
          ]),
        ),
      );
    return apps;
  }
}
