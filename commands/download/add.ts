import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { EXIT_INTERRUPTED } from '../../src/cli/exit-codes.js';
import { reportWatch } from '../../src/cli/watch-outcome.js';
import type { AddResult } from '../../src/download/commands.js';
import { InputFileError, parseInputFile } from '../../src/download/input-file.js';
import type { JobView } from '../../src/download/job.js';
import { watchJobs } from '../../src/ui/progress.js';
import { makeChalk } from '../../src/ui/colour.js';

type JobParams = { url?: string; urls?: string[]; dest?: string; sha256?: string; index?: number; max_rate?: string; connections?: number; headers?: string[]; ca_file?: string; force?: boolean };

export default class DownloadAdd extends ClientCommand {
  static override summary = 'Queue a download; prints the job id';
  static override description =
    'Several URLs are mirrors of one file (same size): with --connections N its parts are fetched in parallel ranges spread over the mirrors and the proxies of the active group, as aria2c -x N does; a mirror that fails is skipped for the job. The bytes go into <dest>.partial (or SQLite parts with downloads.store "sqlite"), and the file is verified and renamed to its destination once complete. A relative --dest resolves under downloads.dir (default: the name in the URL). -i FILE reads jobs in aria2\'s input-file form; the other flags then apply to every job of it. With --wait, progress runs until the jobs end; the exit status is 1 if one failed or was paused. Ctrl-C stops watching, not the download.';
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    url: Args.string({ description: 'http: or https: URL of the file; more URLs are mirrors of the same file' }),
  };
  static override flags = {
    dest: Flags.string({ description: 'destination path, relative to downloads.dir (absolute only with downloads.allow_absolute)' }),
    sha256: Flags.string({ description: 'expected SHA-256 of the file (64 hex digits); a mismatch fails the job' }),
    index: Flags.integer({ description: 'queue position: jobs with an index run first, in index order', min: 0 }),
    connections: Flags.integer({ char: 'x', description: 'connections for this job, 1-16 (default downloads.connections)', min: 1, max: 16 }),
    header: Flags.string({ char: 'H', description: 'extra request header "Name: value" (repeatable), e.g. for a token', multiple: true }),
    'max-rate': Flags.string({ description: 'rate limit for this job: bytes/s, or 1M, 500K … (0 = none)' }),
    'ca-file': Flags.string({ description: 'PEM file of CAs to trust for this https download, besides the built-in ones (default downloads.ca_file)' }),
    'input-file': Flags.string({ char: 'i', description: 'read jobs from FILE (- for stdin), aria2 input-file form: URLs on a line, indented dest=/sha256=/header= lines' }),
    force: Flags.boolean({ description: 'overwrite an existing destination file' }),
    wait: Flags.boolean({ description: 'show progress until the jobs end; exit 1 if one failed or was paused' }),
  };
  static override examples = [
    '<%= config.bin %> download add https://example.org/shard-12.tar.lz4',
    '<%= config.bin %> download add http://mirror-a/f.iso http://mirror-b/f.iso --connections 4 --sha256 9f86d0…0f00a08 --wait',
    "<%= config.bin %> download add https://files.example/r.bin --header 'Authorization: Bearer t0ken' --max-rate 1M --ca-file /etc/ssl/private-ca.pem",
    '<%= config.bin %> download add -i jobs.txt --connections 2 --wait',
  ];

  async run(): Promise<AddResult & { views?: JobView[] }> {
    const { argv, flags } = await this.parse(DownloadAdd);
    const urls = argv as string[];
    if (flags.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.sha256)) this.usage('--sha256: must be 64 hex digits');
    const common: JobParams = {
      ...(flags['max-rate'] !== undefined ? { max_rate: flags['max-rate'] } : {}),
      ...(flags.connections !== undefined ? { connections: flags.connections } : {}),
      ...(flags.header !== undefined ? { headers: flags.header } : {}),
      ...(flags['ca-file'] !== undefined ? { ca_file: resolve(flags['ca-file']) } : {}),
      ...(flags.force ? { force: true } : {}),
    };
    let params: JobParams | { jobs: JobParams[] };
    if (flags['input-file'] !== undefined) {
      if (urls.length > 0) this.usage('give URLs or --input-file, not both');
      for (const f of ['dest', 'sha256', 'index'] as const) if (flags[f] !== undefined) this.usage(`--${f} names one file; put it in the input file (${f === 'index' ? 'not supported there' : `${f}=…`})`);
      params = { jobs: this.#readInput(flags['input-file'], common) };
    } else {
      if (urls.length === 0) this.usage('give a URL (more URLs are mirrors of the same file), or --input-file FILE');
      params = {
        ...(urls.length === 1 ? { url: urls[0]! } : { urls }),
        ...(flags.dest !== undefined ? { dest: flags.dest } : {}),
        ...(flags.sha256 !== undefined ? { sha256: flags.sha256 } : {}),
        ...(flags.index !== undefined ? { index: flags.index } : {}),
        ...common,
      };
    }
    const socket = this.socketPath(flags);
    const input = flags['input-file'];
    const lines = 'jobs' in params ? (params as { jobs: Array<JobParams & { line?: number }> }).jobs.map((j) => j.line) : [];
    const add = async <T>(call: () => Promise<T>): Promise<T> => {
      try {
        return await call();
      } catch (err) {
        // `jobs[2]: …` from the agent names the input file's line.
        const m = input !== undefined && err instanceof Error ? /^(?:download add: )?jobs\[(\d+)\][.:]?\s*(.*)$/s.exec(err.message) : null;
        if (m && lines[Number(m[1])] !== undefined) (err as Error).message = `${input === '-' ? 'stdin' : input}:${lines[Number(m[1])]}: ${m[2]}`;
        throw err;
      }
    };
    for (const j of 'jobs' in params ? params.jobs : []) delete (j as { line?: number }).line;
    if (!flags.wait) {
      const r = await add(() => this.call(socket, 'download.add', params));
      this.log(r.jobs.map((j) => j.id).join('\n'));
      return r;
    }
    const json = this.jsonEnabled();
    const result = await this.withClient(socket, async (client) => {
      const r = await add(() => client.call('download.add', params));
      const ids = r.jobs.map((j) => j.id);
      if (!json) this.log(ids.join('\n'));
      // Ctrl-C ends the watch, not the download: say so, and how to stop it.
      process.once('SIGINT', () => {
        const list = ids.join(' ');
        process.stderr.write(`\nproxyctl: stopped watching; download${ids.length > 1 ? 's' : ''} ${list} keep${ids.length > 1 ? '' : 's'} running in the agent (stop with: proxyctl download pause ${list}, or cancel ${list})\n`);
        process.exit(EXIT_INTERRUPTED);
      });
      const out = json ? { isTTY: false, write: () => undefined } : { isTTY: Boolean(process.stdout.isTTY), write: (s: string) => void process.stdout.write(s) };
      const views = await watchJobs(client, ids, out, makeChalk());
      return { ...r, views };
    });
    reportWatch(result.views, json);
    return result;
  }

  #readInput(path: string, common: JobParams): Array<JobParams & { line: number }> {
    let text: string;
    try {
      text = readFileSync(path === '-' ? 0 : path, 'utf8');
    } catch (err) {
      this.usage(`--input-file ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      return parseInputFile(text, path === '-' ? 'stdin' : path).map((j) => ({
        line: j.line,
        ...common,
        ...(j.urls.length === 1 ? { url: j.urls[0]! } : { urls: j.urls }),
        ...(j.dest !== undefined ? { dest: j.dest } : {}),
        ...(j.sha256 !== undefined ? { sha256: j.sha256 } : {}),
        ...(j.connections !== undefined ? { connections: j.connections } : {}),
        ...(j.max_rate !== undefined ? { max_rate: j.max_rate } : {}),
        ...(j.headers.length > 0 ? { headers: [...(common.headers ?? []), ...j.headers] } : {}),
      }));
    } catch (err) {
      if (err instanceof InputFileError) this.usage(err.message);
      throw err;
    }
  }
}
