import { ClientCommand } from '../../src/cli/client-command.js';
import type { FleetStatus } from '../../src/fleet/commands.js';
import { renderFleetStatus } from '../../src/fleet/render.js';

export default class FleetStatusCommand extends ClientCommand {
  static override summary = 'Show the fleet: every node, its config revision, apps, services and heartbeat, and fleet deploys';
  static override description =
    'One row per node registered in etcd (name, proxyctl version, engine, the fleet config revision it runs, apps up, services@versions, last heartbeat, the error of a config it refused), the fleet\'s config revision, and the newest fleet deploy of each service; * marks the node answering. While etcd is unreachable the first line says "disconnected since …" and the rows are as last read (the answering node\'s own row is current): the agent keeps serving the fleet config it last applied.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> fleet status', '<%= config.bin %> fleet status --json'];

  async run(): Promise<FleetStatus> {
    const { flags } = await this.parse(FleetStatusCommand);
    const status = await this.call(this.socketPath(flags), 'fleet.status', {});
    this.log(renderFleetStatus(status));
    return status;
  }
}
