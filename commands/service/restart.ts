import { operationFlags, serviceArgs, ServiceOperationCommand } from '../../src/cli/service-operation.js';
import type { DeployStarted } from '../../src/deploy/commands.js';
import type { DeployRecord } from '../../src/deploy/controller.js';

export default class ServiceRestart extends ServiceOperationCommand {
  static override summary = 'Restart every instance of a service, rolling, with zero downtime';
  static override description = `Replaces each instance with a fresh one of the same version, in batches of max_surge: a batch joins the app once ready, and the instances it replaces are drained and stopped (as a deploy, without a new version; pm2 calls this reload). Crashed and given-up instances are launched, and their restart counts start again. A stopped service is started.`;
  static override examples = ['<%= config.bin %> service restart notes', '<%= config.bin %> service restart notes --no-wait', '<%= config.bin %> service restart notes --json'];

  static override args = serviceArgs;
  static override flags = operationFlags;

  async run(): Promise<DeployStarted | DeployRecord> {
    const { args, flags } = await this.parse(ServiceRestart);
    return this.operate(this.socketPath(flags), flags, (c) => c.call('service.restart', { service: args.service }));
  }
}
