import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { JobView } from '../../src/download/job.js';
import { parseJobId, watchJobs } from '../../src/download/progress.js';
import { makeChalk } from '../../src/ui/colour.js';

export default class DownloadWatch extends ClientCommand {
  static override summary = 'Live progress bars (%, bytes, speed, ETA) until the jobs end';
  static override description =
    'Without ids, watches every job not yet ended (queued, active, paused, verifying). On a terminal the bars redraw in place; otherwise one line is printed per job as it ends. Exits 1 if any watched job failed or was cancelled.';
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
      if (ids.length === 0) for (const j of await client.call('download.list', {})) if (!['done', 'failed', 'cancelled'].includes(j.state)) ids.push(j.id);
      if (ids.length === 0) return [];
      const out = json ? { isTTY: false, write: () => undefined } : { isTTY: Boolean(process.stdout.isTTY), write: (s: string) => void process.stdout.write(s) };
      return watchJobs(client, ids, out, makeChalk());
    });
    if (jobs.length === 0 && !json) this.log('no unfinished downloads');
    if (jobs.some((j) => j.state !== 'done')) process.exitCode = 1;
    return jobs;
  }
}
