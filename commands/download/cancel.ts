import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';

export default class DownloadCancel extends ClientCommand {
  static override summary = 'Cancel a download and delete its partial data';
  static override args = { id: Args.string({ description: 'job id (see `proxyctl download list`)', required: true }) };
  static override examples = ['<%= config.bin %> download cancel 3'];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DownloadCancel);
    await this.call(this.socketPath(flags), 'download.cancel', { id: parseJobId(args.id, (m) => this.usage(m)) });
    this.log(`job ${args.id.trim()} cancelled`);
  }
}
