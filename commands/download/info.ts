import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { parseJobId } from '../../src/cli/job-id.js';
import { percent } from '../../src/ui/progress.js';
import type { JobView } from '../../src/download/job.js';
import { formatBytes, formatDuration, formatRate } from '../../src/ui/format.js';
import { renderKeyValues, renderTable } from '../../src/ui/table.js';

export default class DownloadInfo extends ClientCommand {
  static override summary = 'Show one download job in full, with what each of its sources delivered';
  static override description = 'The sources table lists every mirror of the job: usable, skipped (it failed: host failure) or refused (its file differs: size, Range), the bytes it delivered and its errors.';
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: 'job id (see `proxyctl download list`)', required: true }) };
  static override examples = ['<%= config.bin %> download info 3', '<%= config.bin %> download info 3 --json'];

  async run(): Promise<JobView> {
    const { args, flags } = await this.parse(DownloadInfo);
    const j = await this.call(this.socketPath(flags), 'download.info', { id: parseJobId(args.id, (m) => this.usage(m)) });
    const pct = percent(j);
    this.log(
      renderKeyValues({
        id: j.id,
        index: j.index,
        state: j.state,
        url: j.url,
        dest: j.dest,
        sha256: j.sha256,
        progress: `${formatBytes(j.bytes)} of ${j.total === null ? '?' : formatBytes(j.total)}${pct === null ? '' : ` (${pct.toFixed(1)}%)`}`,
        speed: j.state === 'active' ? formatRate(j.speed_bps) : null,
        eta: j.state === 'active' ? formatDuration(j.eta_s) : null,
        connections: j.state === 'active' ? `${j.active_connections} of ${j.connections}` : j.connections,
        proxy: j.proxy,
        store: j.store,
        headers: j.headers.length > 0 ? j.headers.join(', ') : null,
        ca_file: j.ca_file,
        attempts: j.attempts,
        resumes: j.resumes,
        restarts: j.restarts,
        max_rate: j.max_rate ? formatRate(j.max_rate) : 'none',
        error: j.error,
        created: j.created_at,
        started: j.started_at,
        finished: j.finished_at,
      }),
    );
    this.log('');
    this.log(renderTable(['source', 'state', 'bytes', 'errors', 'last error'], j.sources.map((s) => [s.url, s.state, formatBytes(s.bytes), s.errors, s.last_error ?? '-'])));
    return j;
  }
}
