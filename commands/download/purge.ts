import { Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';
import { jobsChanged } from '../../src/ui/outcome.js';

export default class DownloadPurge extends ClientCommand {
  static override summary = 'Remove done, failed and cancelled jobs, with their parts and partial files';
  static override description =
    'The jobs disappear from `download list`; a failed job\'s partial file and parts go too (a retry is no longer possible). The state DB gives the space back to the file system. Jobs still queued, active or paused are refused: cancel them first.';
  static override enableJsonFlag = true;
  static override strict = false;
  static override flags = { finished: Flags.boolean({ description: 'every done, failed and cancelled job' }) };
  static override examples = ['<%= config.bin %> download purge 3 4', '<%= config.bin %> download purge --finished'];

  async run(): Promise<{ jobs: number[] }> {
    const { argv, flags } = await this.parse(DownloadPurge);
    const ids = (argv as string[]).map((a) => parseJobId(a, (m) => this.usage(m)));
    if ((ids.length > 0) === Boolean(flags.finished)) this.usage('give job ids or --finished (not both)');
    const r = await this.call(this.socketPath(flags), 'download.purge', flags.finished ? { finished: true } : { ids });
    this.log(jobsChanged(r.jobs, 'purged', 'purge'));
    return r;
  }
}
