import { ClientCommand } from '../../src/cli/client-command.js';
import type { ServiceSummary } from '../../src/deploy/controller.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderTable } from '../../src/ui/table.js';

export default class ServiceList extends ClientCommand {
  static override summary = 'List services: state, health, current and previous version, instances ready, restarts, req/s';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> service list', '<%= config.bin %> service list --json'];

  async run(): Promise<ServiceSummary[]> {
    const { flags } = await this.parse(ServiceList);
    const list = await this.call(this.socketPath(flags), 'service.list', {});
    const c = makeChalk();
    const version = (i: ServiceSummary['current']) => (i ? `v${i.version} (${i.launched_at.slice(11, 19)})` : '-');
    if (list.length === 0) this.log('no services configured');
    else
      this.log(
        renderTable(
          ['SERVICE', 'APP', 'STATE', 'HEALTH', 'CURRENT', 'PREVIOUS', 'READY', 'RESTARTS', 'REQ/S', 'LAST OPERATION'],
          list.map((s) => [
            s.name,
            s.app,
            stateColour(c, s.state),
            stateColour(c, s.health === 'ok' ? 'ok' : s.health === 'down' ? 'down' : 'degraded'),
            version(s.current),
            version(s.previous),
            `${s.ready}/${s.scale}`,
            s.restarts,
            s.req_rate,
            s.last_deploy ? `${s.last_deploy.id} ${s.last_deploy.kind} ${s.last_deploy.result}` : '-',
          ]),
        ),
      );
    return list;
  }
}
