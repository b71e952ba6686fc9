import { operationFlags, serviceArgs, ServiceOperationCommand } from '../../src/cli/service-operation.js';
import type { DeployStarted } from '../../src/deploy/commands.js';
import type { DeployRecord } from '../../src/deploy/controller.js';

export default class ServiceStop extends ServiceOperationCommand {
  static override summary = 'Stop every instance of a service (out of the app, SIGTERM, SIGKILL after stop_timeout)';
  static override description = `The service stays stopped, across an agent restart too, until 'proxyctl service start', 'service restart' or a deploy. Its app keeps its static targets.`;
  static override examples = ['<%= config.bin %> service stop notes', '<%= config.bin %> service stop notes --json'];

  static override args = serviceArgs;
  static override flags = operationFlags;

  async run(): Promise<DeployStarted | DeployRecord> {
    const { args, flags } = await this.parse(ServiceStop);
    return this.operate(this.socketPath(flags), flags, (c) => c.call('service.stop', { service: args.service }));
  }
}
