import { ClientCommand } from '../../src/cli/client-command.js';
import type { JobView } from '../../src/download/job.js';
import { percent } from '../../src/ui/progress.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { formatBytes, formatDuration, formatRate } from '../../src/ui/format.js';
import { nothing } from '../../src/ui/outcome.js';
import { renderTable } from '../../src/ui/table.js';

export default class DownloadList extends ClientCommand {
  static override summary = 'List download jobs in queue order: state, progress, speed, ETA, proxy';
  static override description = 'proxy is the upstream proxy of the current (or last) request, DIRECT for none, - before the first request (the same in --json: "DIRECT", null).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> download list', '<%= config.bin %> download list --json'];

  async run(): Promise<JobView[]> {
    const { flags } = await this.parse(DownloadList);
    const jobs = await this.call(this.socketPath(flags), 'download.list', {});
    const c = makeChalk();
    if (jobs.length === 0) this.log(nothing('download jobs'));
    else
      this.log(
        renderTable(
          ['id', 'index', 'state', '%', 'bytes/total', 'speed', 'eta', 'proxy', 'url'],
          jobs.map((j) => {
            const pct = percent(j);
            return [
              j.id,
              j.index ?? '-',
              stateColour(c, j.state),
              pct === null ? '-' : pct.toFixed(1),
              `${formatBytes(j.bytes)}/${j.total === null ? '?' : formatBytes(j.total)}`,
              j.state === 'active' ? formatRate(j.speed_bps) : '-',
              j.state === 'active' ? formatDuration(j.eta_s) : '-',
              j.proxy ?? '-',
              j.url,
            ];
          }),
        ),
      );
    return jobs;
  }
}
