import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';
import { jobsChanged } from '../../src/ui/outcome.js';

export default class DownloadPause extends ClientCommand {
  static override summary = 'Pause a download (or all queued and active ones) within a second; committed parts are kept';
  static override description = 'A paused job stays paused across agent restarts; `proxyctl download resume` continues it with a Range request.';
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: 'job id (see `proxyctl download list`)' }) };
  static override flags = { all: Flags.boolean({ description: 'pause every queued and active job' }) };
  static override examples = ['<%= config.bin %> download pause 3', '<%= config.bin %> download pause --all'];

  async run(): Promise<{ jobs: number[] }> {
    const { args, flags } = await this.parse(DownloadPause);
    if ((args.id === undefined) === !flags.all) this.usage('give a job id or --all (not both)');
    const r = await this.call(this.socketPath(flags), 'download.pause', flags.all ? { all: true } : { id: parseJobId(args.id!, (m) => this.usage(m)) });
    this.log(jobsChanged(r.jobs, 'paused', 'pause'));
    return r;
  }
}
