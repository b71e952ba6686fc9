import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { reportWatch } from '../../src/cli/watch-outcome.js';
import type { JobView } from '../../src/download/job.js';
import { parseJobId } from '../../src/cli/job-id.js';
import { watchJobs } from '../../src/ui/progress.js';
import { makeChalk } from '../../src/ui/colour.js';
import { nothing } from '../../src/ui/outcome.js';

export default class DownloadWatch extends ClientCommand {
  static override summary = 'Live progress (%, bytes, speed, ETA) until the jobs end or pause';
  static override description =
    'Without ids, watches every job not yet ended (queued, active, verifying). On a terminal the bars redraw in place; otherwise a line is printed when a job waits for a free slot, every 10 seconds while it runs, and when it ends. The watch ends when every job has ended or is paused (a paused job waits for `proxyctl download resume`, and the watch says so). Exits 1 unless every watched job is done.';
  static override strict = false;
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: 'job ids to watch (default: all unfinished jobs)' }) };
  static override examples = ['<%= config.bin %> download watch', '<%= config.bin %> download watch 3 4'];

  async run(): Promise<JobView[]> {
    const { argv, flags } = await this.parse(DownloadWatch);
    const ids: number[] = [];
    for (const a of argv as string[]) ids.push(parseJobId(a, (m) => this.usage(m)));
    const json = this.jsonEnabled();
    const jobs = await this.withClient(this.socketPath(flags), async (client) => {
      if (ids.length === 0) for (const j of await client.call('download.list', {})) if (!['done', 'failed', 'cancelled', 'paused'].includes(j.state)) ids.push(j.id);
      if (ids.length === 0) return [];
      const out = json ? { isTTY: false, write: () => undefined } : { isTTY: Boolean(process.stdout.isTTY), write: (s: string) => void process.stdout.write(s) };
      return watchJobs(client, ids, out, makeChalk());
    });
    if (jobs.length === 0 && !json) this.log(nothing('unfinished downloads'));
    reportWatch(jobs, json);
    return jobs;
  }
}
