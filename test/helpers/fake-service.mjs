#!/usr/bin/env node
// A tiny service for the DeploymentController's unit tests: JSON-RPC over
// HTTP POST /rpc with Ready, Whoami and ExportShardStats; `--port N` as the
// agent appends it. Behaviour switches (env):
//   FAKE_NEVER_READY=1   Ready answers {"ready": false}
//   FAKE_EXIT_AT_START=N exit with code N right away
//   FAKE_IGNORE_TERM=1   ignore SIGTERM (needs SIGKILL)
//   FAKE_NO_STATS=1      ExportShardStats is an unknown method
import { createServer } from 'node:http';

const i = process.argv.indexOf('--port');
const port = Number(process.argv[i + 1]);
if (i === -1 || !Number.isInteger(port)) {
  console.error('fake-service: --port N required');
  process.exit(2);
}
if (process.env.FAKE_EXIT_AT_START) {
  console.error('fake-service: exiting at start as asked');
  process.exit(Number(process.env.FAKE_EXIT_AT_START));
}
let calls = 0;
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const msg = JSON.parse(body || '{}');
    calls++;
    let reply;
    switch (msg.method) {
      case 'Ready':
        reply = { result: { ready: !process.env.FAKE_NEVER_READY } };
        break;
      case 'Whoami':
        reply = { result: { pid: process.pid, port, env_port: process.env.PORT, label: process.env.FAKE_LABEL ?? null, cwd: process.cwd() } };
        break;
      case 'ExportShardStats':
        reply = process.env.FAKE_NO_STATS
          ? { error: { code: -32601, message: 'method not found' } }
          : { result: { pid: process.pid, version: 'fake', shards: { 'shard-0': { CreateNote: { total: calls, rate_1s: 1, rate_10s: 1 } } }, methods: { CreateNote: { total: calls, rate_1s: 1, rate_10s: 1 } }, max_concurrent_calls: 1 } };
        break;
      default:
        reply = { error: { code: -32601, message: `unknown method ${msg.method}` } };
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, ...reply }));
  });
});
server.listen(port, '127.0.0.1', () => console.log(`fake-service pid ${process.pid} listening on ${port}`));
process.on('SIGTERM', () => {
  if (process.env.FAKE_IGNORE_TERM) {
    console.log('fake-service: got SIGTERM, ignoring it');
    return;
  }
  console.log('fake-service: got SIGTERM');
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
