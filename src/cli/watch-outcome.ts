import type { JobView } from '../download/job.js';
import { finalLine } from '../ui/progress.js';
import { oneLineError } from './client-command.js';
import { EXIT_FAILED } from './exit-codes.js';

/**
 * The end of `download add --wait` and `download watch`: each failed job's
 * error printed once, as the command's error on stderr (`proxyctl: download
 * 3: failed: HTTP 404 from …`; the watch itself prints the other outcomes),
 * and exit 1 unless every job is done. With --json the JSON says it all.
 */
export function reportWatch(views: readonly JobView[], json: boolean): void {
  if (!json) for (const j of views) if (j.state === 'failed') process.stderr.write(oneLineError(finalLine(j)));
  if (views.some((j) => j.state !== 'done')) process.exitCode = EXIT_FAILED;
}
