import { emitKeypressEvents, type Key } from 'node:readline';
import { ClientCommand } from '../src/cli/client-command.js';
import { ControlClient } from '../src/control/client.js';
import type { ServiceSummary } from '../src/deploy/controller.js';
import { makeChalk } from '../src/ui/colour.js';
import { renderDashboard, shardRows, type DashboardData } from '../src/ui/dashboard.js';

const REFRESH_MS = 1000;

export default class Dashboard extends ClientCommand {
  static override summary = 'Full-screen live view of services, shards, apps and upstream proxies';
  static override description = `Refreshes every second: services (state, current and previous version with launch time, req/s), shards (total, req/s), apps (targets up, connections) and the upstream proxy list (active group, health). Keys: up/down (or k/j) select a service, d deploys it, q or Ctrl-C quits. Needs a terminal; for scripts use 'proxyctl stats --json' or 'proxyctl service list --json'.`;

  static override examples = ['<%= config.bin %> dashboard'];

  async run(): Promise<void> {
    const { flags } = await this.parse(Dashboard);
    const stdin = process.stdin;
    const stdout = process.stdout;
    if (!stdout.isTTY || !stdin.isTTY) this.fail("dashboard needs a terminal (stdin and stdout a TTY); for scripts use 'proxyctl stats --json' or 'proxyctl service list --json'");
    const socket = this.socketPath(flags);
    const chalk = makeChalk(stdout);
    // First contact outside the full screen, so an absent agent is a plain one-line error (exit 3).
    let client: ControlClient | null = await ControlClient.connect(socket, { timeoutMs: 5000 });

    let data: DashboardData = { services: [], shards: [], apps: [], proxy: null, at: new Date() };
    let selected = 0;
    let message: string | null = null;
    let error: string | null = null;
    let stopped = false;
    let wake: (() => void) | null = null;

    const draw = () => {
      if (stopped) return;
      const lines = renderDashboard(data, { selected, message, error, width: stdout.columns || 80, height: stdout.rows || 24, chalk });
      stdout.write('\x1b[H' + lines.map((l) => l + '\x1b[K').join('\n') + '\x1b[J');
    };

    const poll = async () => {
      try {
        client ??= await ControlClient.connect(socket, { timeoutMs: 5000 });
        const c = client;
        const [services, stats, apps, proxy] = await Promise.all([
          c.call('service.list', {}),
          c.call('agent.stats', {}),
          c.call('app.list', {}).catch(() => []),
          c.call('proxy.info', {}).catch(() => null),
        ]);
        data = { services, shards: shardRows(stats), apps, proxy, at: new Date() };
        selected = Math.min(selected, Math.max(0, services.length - 1));
        error = null;
      } catch (err) {
        error = (err as Error).message;
        client?.close();
        client = null;
      }
    };

    const deploy = async (svc: ServiceSummary | undefined) => {
      if (!svc) return;
      try {
        if (!client) throw new Error('not connected');
        const d = await client.call('service.deploy', { service: svc.name });
        message = `deploy ${d.id} of ${d.service} started: v${d.from_version ?? '-'} -> v${d.version}`;
      } catch (err) {
        message = chalk.red((err as Error).message);
      }
      await poll();
      draw();
    };

    const restore = () => {
      if (stopped) return;
      stopped = true;
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      stdout.write('\x1b[?25h\x1b[?1049l');
    };
    const onKey = (_: string, key: Key | undefined) => {
      if (!key) return;
      if (key.name === 'q' || (key.ctrl && key.name === 'c')) {
        restore();
        wake?.();
      } else if (key.name === 'up' || key.name === 'k') {
        selected = Math.max(0, selected - 1);
        draw();
      } else if (key.name === 'down' || key.name === 'j') {
        selected = Math.min(Math.max(0, data.services.length - 1), selected + 1);
        draw();
      } else if (key.name === 'd') {
        void deploy(data.services[selected]);
      }
    };
    const onSignal = () => {
      restore();
      wake?.();
    };

    // The terminal is restored however we leave: q, Ctrl-C, SIGTERM/SIGHUP, an exception, process exit.
    process.once('exit', restore);
    process.once('SIGTERM', onSignal);
    process.once('SIGHUP', onSignal);
    stdout.on('resize', draw);
    emitKeypressEvents(stdin);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('keypress', onKey);
    stdout.write('\x1b[?1049h\x1b[?25l\x1b[2J');
    try {
      while (!stopped) {
        await poll();
        draw();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, REFRESH_MS);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      restore();
      stdin.off('keypress', onKey);
      stdout.off('resize', draw);
      process.off('exit', restore);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
      client?.close();
    }
  }
}
