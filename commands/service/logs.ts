import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { ServiceLogs } from '../../src/deploy/commands.js';
import { renderLogLine } from '../../src/ui/render/services.js';

export default class ServiceLogsCommand extends ClientCommand {
  static override summary = "Print the last lines of a service's instances' stdout and stderr";
  static override description = 'The agent keeps the last 1000 lines per service (every version, failed ones included); each line shows its time, version and stream.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> service logs notes', '<%= config.bin %> service logs notes --lines 20'];
  static override args = {
    service: Args.string({ description: 'service name', required: true }),
  };
  static override flags = {
    lines: Flags.integer({ char: 'n', description: 'how many of the last lines (1-1000)', default: 100, min: 1, max: 1000 }),
  };

  async run(): Promise<ServiceLogs> {
    const { args, flags } = await this.parse(ServiceLogsCommand);
    const logs = await this.call(this.socketPath(flags), 'service.logs', { service: args.service, lines: flags.lines });
    for (const l of logs.lines) this.log(renderLogLine(logs.service, l));
    return logs;
  }
}
