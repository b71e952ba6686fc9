#!/usr/bin/env node
/**
 * Helpers of bench/forward.js, each run as its own process so it has a core
 * to itself as far as the box allows:
 *   sink PORT                 bulk sink: counts bytes, answers the total when the client ends
 *   bulk HOST:PORT BYTES      one stream of BYTES to a sink; prints {bytes, seconds}
 *   foo-server PORT           Foo server: ACK every REQ, NAK 0 ERRDECODE other lines
 *   foo-pipe HOST:PORT N WIN  N pipelined REQs, at most WIN outstanding; prints {messages, seconds}
 *   foo-lockstep HOST:PORT S  one REQ, wait its ACK, for S seconds; prints {round_trips, seconds}
 *   node-relay PORT TARGET... the bare Node relay (pipe() both ways, noDelay), one listener per PORT:TARGETPORT pair
 * Each server prints "ready PORT" when listening.
 */
import { connect, createServer } from 'node:net';

const [cmd, ...args] = process.argv.slice(2);
const hostPort = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};

function listen(server, port) {
  server.listen(port, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
}

switch (cmd) {
  case 'sink': {
    listen(
      createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
        let n = 0;
        s.on('data', (d) => (n += d.length));
        s.on('end', () => s.end(`${n}\n`));
        s.on('error', () => {});
      }),
      Number(args[0]),
    );
    break;
  }
  case 'bulk': {
    const total = Number(args[1]);
    const chunk = Buffer.alloc(256 * 1024, 'b');
    const s = connect({ ...hostPort(args[0]), allowHalfOpen: true, noDelay: true });
    let t0;
    let sent = 0;
    let reply = '';
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    s.once('connect', () => {
      t0 = process.hrtime.bigint();
      pump();
    });
    s.setEncoding('utf8').on('data', (d) => (reply += d));
    s.on('end', () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ bytes: Number(reply.trim()), seconds }));
      s.destroy();
    });
    break;
  }
  case 'foo-server': {
    listen(
      createServer({ noDelay: true }, (s) => {
        let rest = '';
        s.setEncoding('latin1');
        s.on('error', () => {});
        s.on('data', (chunk) => {
          const text = rest + chunk;
          let out = '';
          let at = 0;
          let nl;
          while ((nl = text.indexOf('\n', at)) !== -1) {
            const line = text.slice(at, nl);
            at = nl + 1;
            const m = /^REQ[ \t]+(-?\d+)/.exec(line);
            out += m ? `ACK ${m[1]}\n` : 'NAK 0 ERRDECODE\n';
          }
          rest = text.slice(at);
          if (out) s.write(out, 'latin1');
        });
      }),
      Number(args[0]),
    );
    break;
  }
  case 'foo-pipe': {
    const n = Number(args[1]);
    const win = Number(args[2]);
    const s = connect({ ...hostPort(args[0]), noDelay: true });
    let sent = 0;
    let acked = 0;
    let t0;
    const batch = 256;
    const send = () => {
      let out = '';
      while (sent < n && sent - acked < win) {
        const k = Math.min(batch, n - sent, win - (sent - acked));
        for (let i = 0; i < k; i++) out += `REQ ${++sent} hello foo\n`;
        if (out.length > 32768) {
          s.write(out);
          out = '';
        }
      }
      if (out) s.write(out);
    };
    s.on('connect', () => {
      t0 = process.hrtime.bigint();
      send();
    });
    s.on('data', (d) => {
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) acked++;
      if (acked >= n) {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        console.log(JSON.stringify({ messages: acked, seconds }));
        s.destroy();
      } else send();
    });
    break;
  }
  case 'foo-lockstep': {
    const dur = Number(args[1]) * 1e9;
    const s = connect({ ...hostPort(args[0]), noDelay: true });
    let seq = 0;
    let t0;
    // Write the message in two pieces, as an interactive client does: with Nagle
    // on anywhere along the path the second piece waits for the first one's ACK.
    const one = () => {
      seq++;
      s.write('REQ ');
      s.write(`${seq} ping\n`);
    };
    s.on('connect', () => {
      t0 = process.hrtime.bigint();
      one();
    });
    s.on('data', () => {
      const el = Number(process.hrtime.bigint() - t0);
      if (el >= dur) {
        console.log(JSON.stringify({ round_trips: seq, seconds: el / 1e9 }));
        s.destroy();
      } else one();
    });
    break;
  }
  case 'node-relay': {
    // A peer, not the product: what plain stream.pipe() costs on this box.
    for (const pair of args) {
      const [port, target] = pair.split(':').map(Number);
      listen(
        createServer({ allowHalfOpen: true, noDelay: true }, (c) => {
          const u = connect({ port: target, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
          c.pipe(u);
          u.pipe(c);
          c.on('error', () => u.destroy());
          u.on('error', () => c.destroy());
        }),
        port,
      );
    }
    break;
  }
  default:
    console.error(`unknown tool ${cmd}`);
    process.exit(2);
}
