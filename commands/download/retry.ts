import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';

export default class DownloadRetry extends ClientCommand {
  static override summary = 'Put a failed download back in the queue (it resumes from its committed parts)';
  static override args = { id: Args.string({ description: 'job id (see `proxyctl download list`)', required: true }) };
  static override examples = ['<%= config.bin %> download retry 3'];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DownloadRetry);
    await this.call(this.socketPath(flags), 'download.retry', { id: parseJobId(args.id, (m) => this.usage(m)) });
    this.log(`job ${args.id.trim()} queued again`);
  }
}
