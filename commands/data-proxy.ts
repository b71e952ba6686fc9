import { Command, Flags, type Interfaces } from '@oclif/core';
import { join } from 'node:path';
import { ProxyctlError } from '../src/errors.js';
import { EXIT_FAILED } from '../src/cli/exit-codes.js';
import { ownError, printOwnError } from '../src/cli/client-command.js';

export default class DataProxy extends Command {
  static override summary = 'Run one NoteStore data proxy process (the built-in service behind the notes app)';
  static override description = `Serves the NoteStore over JSON-RPC 2.0 on HTTP POST /rpc until SIGTERM or SIGINT.
The agent launches it as a service instance (PORT in the env and --port N appended); you can also run it by hand.

Methods (params by name):
  Ready                     -> {ready: true, pid, version, shards, db}
  ListNotes                 -> [Note], oldest first
  ReadNote {id}             -> Note
  CreateNote {title, body}  -> Note (id: a random UUID)
  UpdateNote {id, title?, body?} -> Note
  DeleteNote {id}           -> {deleted: true, id}
  ExportShardStats          -> {pid, version, shards, methods, ...}
A Note is {id, title, body, created_at, updated_at} (timestamps ISO 8601 UTC). ExportShardStats answers {pid, version, shards: {<shard id>: {<method>: {total, rate_1s, rate_10s}}}, methods: {<method>: {total, rate_1s, rate_10s}}, max_concurrent_calls}.

Errors: -32700 body not JSON, -32600 not a JSON-RPC request, -32601 unknown method, -32602 bad params (the message names the parameter), -32001 no note with that id, -32603 internal; error.data.code holds the PXC_ERR_* code. A body over 1 MiB is refused with HTTP 413 (-32600, PXC_ERR_BODY_TOO_LARGE) without being stored.

Every call is serialised: one executes at a time, in arrival order. Notes live in --shards SQLite files <db>/shard-<i>.db (WAL, busy timeout); a note's shard is FNV-1a-32(id) mod K and its shard id is the file name without .db ("shard-0"). <db>/layout.json records K; a process started with another K on that --db refuses to start. Several processes (versions) may share one --db.

On SIGTERM (or SIGINT): stops accepting, answers every call already received with "Connection: close", gives idle keep-alive connections 1 s to bring one more call (answered the same way) before closing them, closes the shard files and exits 0; a client never has a connection cut under a call. Launched by the agent (PROXYCTL_AGENT_PID in the env) it also stops that way when the agent is gone, so a SIGKILLed agent leaves no orphan behind. Logs one line at start (with the bound port) and one at stop, nothing per request; internal errors go to stderr.`;

  static override examples = [
    '<%= config.bin %> data-proxy --port 7001',
    '<%= config.bin %> data-proxy --port 7001 --db /var/lib/notes --shards 8',
    `curl -s localhost:7001/rpc -d '{"jsonrpc":"2.0","id":1,"method":"ListNotes"}'`,
  ];

  static override flags = {
    port: Flags.integer({ char: 'p', description: 'TCP port to listen on (0 picks a free one, printed at start) [default: $PORT]', env: 'PORT', min: 0, max: 65535, required: true }),
    host: Flags.string({ description: 'address to listen on', default: '127.0.0.1' }),
    db: Flags.string({ description: 'directory of the shard files [default: $PROXYCTL_STATE_DIR/notes, else ./notes-db]' }),
    shards: Flags.integer({ char: 'k', description: 'number of SQLite shard files (fixed for the life of a --db)', default: 4, min: 1, max: 1024 }),
    'call-delay': Flags.integer({ description: 'test hook: ms each note call sleeps while holding the lock', hidden: true, min: 0 }),
  };

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    if (printOwnError(err)) return;
    return super.catch(err);
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(DataProxy);
    const stateDir = process.env.PROXYCTL_STATE_DIR;
    const dbDir = flags.db ?? (stateDir ? join(stateDir, 'notes') : 'notes-db');
    // Set by the agent for its service instances (a hand-run data proxy has none).
    const agentPid = /^[1-9]\d*$/.test(process.env.PROXYCTL_AGENT_PID ?? '') ? Number(process.env.PROXYCTL_AGENT_PID) : undefined;
    const { runDataProxy } = await import('../src/deploy/data-proxy/main.js');
    try {
      await runDataProxy({
        host: flags.host,
        port: flags.port,
        dbDir,
        shards: flags.shards,
        ...(flags['call-delay'] ? { callDelayMs: flags['call-delay'] } : {}),
        ...(agentPid !== undefined ? { agentPid } : {}),
        log: (line) => process.stdout.write(line + '\n'),
        logError: (line) => process.stderr.write(line + '\n'),
      });
    } catch (err) {
      if (err instanceof ProxyctlError) throw ownError(`${err.message} (${err.code})`, EXIT_FAILED);
      throw err;
    }
  }
}
