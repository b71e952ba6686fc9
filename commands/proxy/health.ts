import { ClientCommand } from '../../src/cli/client-command.js';
import type { HealthRow } from '../../src/upstream/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderTable } from '../../src/ui/table.js';

export default class ProxyHealth extends ClientCommand {
  static override summary = 'Show each upstream proxy: group, state, last check, latency, failures, slow transfers';
  static override description = 'One row per member of each group; the active group is marked with "*". States come from the health checker and from failed requests.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy health', '<%= config.bin %> proxy health --json'];

  async run(): Promise<HealthRow[]> {
    const { flags } = await this.parse(ProxyHealth);
    const rows = await this.call(this.socketPath(flags), 'proxy.health', {});
    const c = makeChalk();
    const now = Date.now();
    this.log(
      renderTable(
        ['PROXY', 'GROUP', 'STATE', 'LAST CHECK', 'LATENCY MS', 'FAILURES', 'SLOW'],
        rows.map((r) => [
          r.proxy,
          r.active ? `${r.group}*` : String(r.group),
          stateColour(c, r.state),
          r.last_check === null ? '-' : `${Math.max(0, Math.round((now - Date.parse(r.last_check)) / 1000))}s ago`,
          r.latency_ms ?? '-',
          r.failures,
          r.slow,
        ]),
      ),
    );
    return rows;
  }
}
