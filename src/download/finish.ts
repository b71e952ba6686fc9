import { constants } from 'node:fs';
import { lstat, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { checkContained, type DestinationRules } from './destination.js';
import type { HashWorker } from './hash-worker.js';
import type { JobRecord } from './job.js';
import type { JobFiles } from './job-files.js';
import { JobFailure } from './transfer.js';

/**
 * The end of a job: the partial file's size and SHA-256 checked, fsynced, made
 * readable (0644), renamed onto the destination, the directory synced — in
 * that order, so the destination only ever holds a complete, verified file.
 *
 * The rename replaces whatever is at the destination, a symlink included (the
 * link is replaced, never written through). Without `force` an existing
 * destination is refused, unless it holds exactly these bytes: the agent's own
 * file from a crash between the rename and `done`.
 */

export interface Finished {
  size: number;
  sha256: string;
}

export interface FinishDeps {
  rules: DestinationRules;
  partHasher: HashWorker;
  log: Logger;
}

/** Verifies and moves the file into place; throws JobFailure when it is not the file asked for. */
export async function finishJob(job: JobRecord, files: JobFiles, deps: FinishDeps): Promise<Finished> {
  const size = await files.partial.size();
  const sha256 = await files.digest();
  const total = files.map.total;
  if (total !== null && size !== total) throw new JobFailure(`size mismatch: the file has ${size} bytes, expected ${total}`);
  if (job.sha256 !== null && sha256 !== job.sha256) throw new JobFailure(`checksum mismatch: expected sha256 ${job.sha256}, got ${sha256}`);
  await files.partial.sync();
  await files.partial.chmod(0o644);
  checkContained(job.dest, deps.rules);
  const existing = await lstat(job.dest).catch(() => null);
  if (existing && !job.force) {
    // A crash between the rename and `done` leaves our own file there: the same bytes are not a clash.
    if (!(existing.isFile() && existing.size === size && (await hashOf(job.dest, size, deps.partHasher)) === sha256)) {
      throw new JobFailure(`destination ${job.dest} appeared meanwhile; not overwritten (use force)`);
    }
    await files.discard();
  } else {
    await rename(files.partial.path, job.dest);
    await files.close();
  }
  await syncDir(dirname(job.dest));
  return { size, sha256 };
}

/** SHA-256 of a regular file (not through a symlink), in the hash worker. */
async function hashOf(path: string, size: number, hasher: HashWorker): Promise<string | null> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!fh) return null;
  try {
    const r = await hasher.hashRange(fh.fd, 0, size);
    return r.read === size ? r.sha256 : null;
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}
