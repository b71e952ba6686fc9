import { DataProxyClient } from '../../src/deploy/data-proxy/client.js';

/**
 * A client calling the NoteStore through an app port continuously, for the
 * rolling-deploy tests: workers alternating CreateNote and ReadNote of the note just written (one on a
 * kept-alive connection, one with a fresh connection per call, as the notes
 * CLI and a one-shot curl would), plus a worker calling Ready on fresh
 * connections to learn which instance (pid) served each call and when.
 */

export interface LoadReport {
  calls: number;
  failures: string[];
  /** [epoch ms, pid] of each Ready answer. */
  servedBy: Array<[number, number]>;
}

export interface NotesLoad {
  report(): LoadReport;
  stop(): Promise<LoadReport>;
}

export interface NotesLoadOptions {
  /**
   * A pause after each call of the note workers (2 ms: still hundreds of calls
   * a second, so every phase of a deploy is crossed by calls, without taking
   * the CPU the deploy under test needs on a 2-core box).
   */
  pauseMs?: number;
}

export function startNotesLoad(url: string, { pauseMs = 2 }: NotesLoadOptions = {}): NotesLoad {
  let running = true;
  const rep: LoadReport = { calls: 0, failures: [], servedBy: [] };
  const clients: DataProxyClient[] = [];

  const worker = async (keepAlive: boolean) => {
    const client = new DataProxyClient(url, { keepAlive, retryOnReset: 'always', timeoutMs: 10_000 });
    clients.push(client);
    let i = 0;
    let last: { id: string; title: string } | null = null;
    while (running) {
      i++;
      try {
        // A write, then reading it back (ListNotes would return every note so far: a cost growing with the run).
        if (i % 2 || !last) last = await client.createNote(`t${i}`, `body ${i}`);
        else {
          const read = await client.readNote(last.id);
          if (read.title !== last.title) throw new Error(`ReadNote ${last.id}: title ${JSON.stringify(read.title)}, wrote ${JSON.stringify(last.title)}`);
        }
        rep.calls++;
      } catch (err) {
        rep.failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const who = async () => {
    const client = new DataProxyClient(url, { keepAlive: false, timeoutMs: 10_000 });
    clients.push(client);
    while (running) {
      try {
        const r = await client.ready();
        rep.servedBy.push([Date.now(), r.pid]);
        rep.calls++;
      } catch (err) {
        rep.failures.push(`${new Date().toISOString()} Ready: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const all = Promise.all([worker(true), worker(false), who()]);
  return {
    report: () => rep,
    stop: async () => {
      running = false;
      await all;
      await Promise.all(clients.map((c) => c.close()));
      return rep;
    },
  };
}
