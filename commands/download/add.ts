import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { JobView } from '../../src/download/job.js';
import { watchJobs } from '../../src/download/progress.js';
import { makeChalk } from '../../src/ui/colour.js';

export default class DownloadAdd extends ClientCommand {
  static override summary = 'Queue a download; prints the job id';
  static override description =
    'The file is fetched through the upstream proxy list into SQLite parts, then verified and renamed to its destination. A relative --dest resolves under downloads.dir (default: the name in the URL). With --wait, a progress bar runs until the job ends; the exit status is 1 if it failed.';
  static override enableJsonFlag = true;
  static override args = {
    url: Args.string({ description: 'http: or https: URL of the file', required: true }),
  };
  static override flags = {
    dest: Flags.string({ description: 'destination path, relative to downloads.dir (absolute only with downloads.allow_absolute)' }),
    sha256: Flags.string({ description: 'expected SHA-256 of the file (64 hex digits); a mismatch fails the job' }),
    index: Flags.integer({ description: 'queue position: jobs with an index run first, in index order', min: 0 }),
    'max-rate': Flags.integer({ description: 'rate limit for this job in bytes/s (0 = none)', min: 0 }),
    force: Flags.boolean({ description: 'overwrite an existing destination file' }),
    wait: Flags.boolean({ description: 'show a progress bar until the job ends; exit 1 if it fails' }),
  };
  static override examples = [
    '<%= config.bin %> download add https://example.org/shard-12.tar.lz4',
    '<%= config.bin %> download add http://mirror/f.iso --dest isos/f.iso --sha256 9f86d0…0f00a08 --wait',
    '<%= config.bin %> download add http://mirror/s1 --index 1 && <%= config.bin %> download add http://mirror/s2 --index 2',
  ];

  async run(): Promise<{ id: number; existing: boolean; job?: JobView }> {
    const { args, flags } = await this.parse(DownloadAdd);
    if (flags.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.sha256)) this.usage('--sha256: must be 64 hex digits');
    const socket = this.socketPath(flags);
    const params = {
      url: args.url,
      ...(flags.dest !== undefined ? { dest: flags.dest } : {}),
      ...(flags.sha256 !== undefined ? { sha256: flags.sha256 } : {}),
      ...(flags.index !== undefined ? { index: flags.index } : {}),
      ...(flags['max-rate'] !== undefined ? { max_rate: flags['max-rate'] } : {}),
      ...(flags.force ? { force: true } : {}),
    };
    if (!flags.wait) {
      const r = await this.call(socket, 'download.add', params);
      this.log(String(r.id));
      return r;
    }
    const json = this.jsonEnabled();
    const result = await this.withClient(socket, async (client) => {
      const r = await client.call('download.add', params);
      if (!json) this.log(String(r.id));
      const out = json ? { isTTY: false, write: () => undefined } : { isTTY: Boolean(process.stdout.isTTY), write: (s: string) => void process.stdout.write(s) };
      const [job] = await watchJobs(client, [r.id], out, makeChalk());
      return { ...r, job: job! };
    });
    if (result.job.state !== 'done') {
      if (json) {
        process.exitCode = 1;
        return result;
      }
      this.fail(`download ${result.id} ${result.job.state}${result.job.error ? `: ${result.job.error}` : ''}`);
    }
    return result;
  }
}
