import { join } from 'node:path';

/**
 * aria2's input file (`aria2c -i FILE`), for `proxyctl download add -i FILE`:
 * one job per entry; an entry is a line of URLs (mirrors of one file, separated
 * by tabs or spaces), followed by indented `key=value` lines for that job:
 *
 *   http://a.example/f.iso   http://b.example/f.iso
 *     dest=isos/f.iso
 *     sha256=9f86d0…
 *     header=Authorization: Bearer t0ken
 *
 * Keys: dest (aria2's out, and dir to prefix it), sha256 (aria2's
 * checksum=sha-256=HEX), header (repeatable), connections (aria2's split and
 * max-connection-per-server), max-rate (aria2's max-download-limit). Blank lines
 * and lines starting with `#` are skipped. CLI-side: no agent code.
 */

export interface InputJob {
  /** 1-based line of the entry's URLs. */
  line: number;
  urls: string[];
  dest?: string;
  sha256?: string;
  headers: string[];
  connections?: number;
  max_rate?: string;
}

export class InputFileError extends Error {}

export function parseInputFile(text: string, name = 'input file'): InputJob[] {
  const jobs: InputJob[] = [];
  let job: (InputJob & { dir?: string }) | null = null;
  const finish = (): void => {
    if (!job) return;
    if (job.dir !== undefined) {
      job.dest = join(job.dir, job.dest ?? lastSegment(job.urls[0]!));
      delete job.dir;
    }
    jobs.push(job);
    job = null;
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const where = `${name}:${n}`;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    if (!/^\s/.test(raw)) {
      finish();
      const urls = raw.trim().split(/\s+/);
      for (const u of urls) if (!/^https?:\/\/\S+$/i.test(u)) throw new InputFileError(`${where}: "${u}" is not an http(s) URL`);
      job = { line: n, urls, headers: [] };
      return;
    }
    if (!job) throw new InputFileError(`${where}: an option line before any URL line`);
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (eq <= 0) throw new InputFileError(`${where}: expected key=value, got "${line}"`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const j: InputJob & { dir?: string } = job;
    switch (key) {
      case 'dest':
      case 'out':
        j.dest = value;
        break;
      case 'dir':
        j.dir = value;
        break;
      case 'sha256':
        j.sha256 = value;
        break;
      case 'checksum': {
        const m = /^sha-?256=([0-9a-fA-F]{64})$/i.exec(value);
        if (!m) throw new InputFileError(`${where}: checksum must be sha-256=HEX (64 hex digits)`);
        j.sha256 = m[1]!;
        break;
      }
      case 'header':
        j.headers.push(value);
        break;
      case 'connections':
      case 'split':
      case 'max-connection-per-server': {
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 16) throw new InputFileError(`${where}: ${key} must be an integer from 1 to 16`);
        j.connections = Number(value);
        break;
      }
      case 'max-rate':
      case 'max-download-limit':
        j.max_rate = value;
        break;
      default:
        throw new InputFileError(`${where}: unknown option "${key}" (dest, dir, sha256, checksum, header, connections, max-rate)`);
    }
  });
  finish();
  if (jobs.length === 0) throw new InputFileError(`${name}: no URL in it`);
  return jobs;
}

function lastSegment(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || 'index.html';
  } catch {
    return 'index.html';
  }
}
