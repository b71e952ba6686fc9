import { ClientCommand } from '../../src/cli/client-command.js';
import type { HealthRow } from '../../src/upstream/commands.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderHealth } from '../../src/ui/render/proxy.js';

export default class ProxyHealth extends ClientCommand {
  static override summary = 'Show each upstream proxy: group, state, last check, latency, failures, slow transfers';
  static override description = 'One row per member of each group; the active group is marked with "*". States come from the health checker and from failed requests.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy health', '<%= config.bin %> proxy health --json'];

  async run(): Promise<HealthRow[]> {
    const { flags } = await this.parse(ProxyHealth);
    const rows = await this.call(this.socketPath(flags), 'proxy.health', {});
    const c = makeChalk();
    this.log(renderHealth(rows, (s) => stateColour(c, s)));
    return rows;
  }
}
