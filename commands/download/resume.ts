import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';
import { jobsChanged } from '../../src/ui/outcome.js';

export default class DownloadResume extends ClientCommand {
  static override summary = 'Resume a paused download (or all); it continues where its committed parts end';
  static override description = 'The job goes back to the queue and continues with `Range: bytes=N-` and If-Range; a changed file restarts from zero.';
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: 'job id (see `proxyctl download list`)' }) };
  static override flags = { all: Flags.boolean({ description: 'resume every paused job' }) };
  static override examples = ['<%= config.bin %> download resume 3', '<%= config.bin %> download resume --all'];

  async run(): Promise<{ jobs: number[] }> {
    const { args, flags } = await this.parse(DownloadResume);
    if ((args.id === undefined) === !flags.all) this.usage('give a job id or --all (not both)');
    const r = await this.call(this.socketPath(flags), 'download.resume', flags.all ? { all: true } : { id: parseJobId(args.id!, (m) => this.usage(m)) });
    this.log(jobsChanged(r.jobs, 'queued', 'resume'));
    return r;
  }
}
