import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';
import type { JobView } from '../../src/download/job.js';
import { changed } from '../../src/ui/outcome.js';

export default class DownloadRetry extends ClientCommand {
  static override summary = 'Put a failed download back in the queue (it resumes from its committed parts)';
  static override description = 'Prints `download ID: queued` (or active, if it started at once); --json prints the job as `download info --json` shows it.';
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: 'job id (see `proxyctl download list`)', required: true }) };
  static override examples = ['<%= config.bin %> download retry 3', '<%= config.bin %> download retry 3 --json'];

  async run(): Promise<JobView> {
    const { args, flags } = await this.parse(DownloadRetry);
    const j = await this.call(this.socketPath(flags), 'download.retry', { id: parseJobId(args.id, (m) => this.usage(m)) });
    this.log(changed(`download ${j.id}`, j.state));
    return j;
  }
}
