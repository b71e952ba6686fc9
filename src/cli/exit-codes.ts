import type { ErrorCode } from '../errors.js';

/** The CLI's exit codes, the same with and without --json. */
export const EXIT_OK = 0;
/** The agent answered with an error, or the operation failed (a download, a deploy). */
export const EXIT_FAILED = 1;
/** Bad flags or arguments, caught before anything was sent. */
export const EXIT_USAGE = 2;
/** No agent answers on the socket. */
export const EXIT_UNREACHABLE = 3;
/** Ctrl-C: at a prompt, or stopping a watch (128 + SIGINT, as a shell reports it). */
export const EXIT_INTERRUPTED = 130;

export const EXIT_CODES: ReadonlyArray<readonly [number, string]> = [
  [EXIT_OK, 'success'],
  [EXIT_FAILED, 'the agent answered with an error, or the operation failed (e.g. a download or deploy)'],
  [EXIT_USAGE, 'usage error: unknown command or flag, missing or malformed argument'],
  [EXIT_UNREACHABLE, 'the agent is not running or its socket cannot be reached'],
  [EXIT_INTERRUPTED, 'interrupted (Ctrl-C) at a prompt or while watching; nothing was changed by the prompt'],
];

/** The one place error codes become exit codes. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'PXC_ERR_AGENT_UNREACHABLE':
      return EXIT_UNREACHABLE;
    default:
      return EXIT_FAILED;
  }
}
