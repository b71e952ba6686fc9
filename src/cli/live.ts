import type { ControlClient } from '../control/client.js';

/**
 * Waits while a live command streams (events, service logs --follow): until
 * Ctrl-C or SIGTERM (resolves: a quiet exit 0, as `tail -f`), or until the
 * agent closes the connection (rejects with why: the agent stopped).
 */
export function untilInterrupted(client: ControlClient): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    void client.closed.then((err) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      reject(err);
    });
  });
}
