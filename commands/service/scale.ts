import { Args } from '@oclif/core';
import { operationFlags, serviceArgs, ServiceOperationCommand } from '../../src/cli/service-operation.js';
import type { DeployStarted } from '../../src/deploy/commands.js';
import type { DeployRecord } from '../../src/deploy/controller.js';

export default class ServiceScale extends ServiceOperationCommand {
  static override summary = 'Run N instances of the current version of a service behind its app';
  static override description = `New instances join the app once ready; extra ones are taken out of it and stopped. The count holds across agent restarts until the service's instances key changes in the config. A deploy rolls all of them, in batches of max_surge.`;
  static override examples = ['<%= config.bin %> service scale notes 3', '<%= config.bin %> service scale notes 1 --json'];
  static override flags = operationFlags;
  static override args = {
    ...serviceArgs,
    instances: Args.integer({ description: 'instances wanted (1-64)', required: true, min: 1, max: 64 }),
  };

  async run(): Promise<DeployStarted | DeployRecord> {
    const { args, flags } = await this.parse(ServiceScale);
    return this.operate(this.socketPath(flags), flags, (c) => c.call('service.scale', { service: args.service, instances: args.instances }));
  }
}
