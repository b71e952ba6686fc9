import { operationFlags, serviceArgs, ServiceOperationCommand } from '../../src/cli/service-operation.js';
import type { DeployStarted } from '../../src/deploy/commands.js';
import type { DeployRecord } from '../../src/deploy/controller.js';

export default class ServiceStart extends ServiceOperationCommand {
  static override summary = 'Start what is missing of a service: a stopped service, crashed or given-up instances';
  static override description = `Launches every instance of a service stopped with 'proxyctl service stop', and the instances of a running one that are down (crashed with restart: never, or left down after max_restarts). Each joins the app once ready. A service with every instance running is left as it is.`;
  static override examples = ['<%= config.bin %> service start notes', '<%= config.bin %> service start notes --json'];

  static override args = serviceArgs;
  static override flags = operationFlags;

  async run(): Promise<DeployStarted | DeployRecord> {
    const { args, flags } = await this.parse(ServiceStart);
    return this.operate(this.socketPath(flags), flags, (c) => c.call('service.start', { service: args.service }));
  }
}
