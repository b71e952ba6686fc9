import { emitKeypressEvents, type Key } from 'node:readline';
import { ClientCommand } from '../src/cli/client-command.js';
import { ControlClient } from '../src/control/client.js';
import type { ServiceSummary } from '../src/deploy/controller.js';
import { makeChalk } from '../src/ui/colour.js';
import { changed } from '../src/ui/outcome.js';
import { renderDashboard } from '../src/ui/dashboard.js';
import { DashboardFeed } from '../src/ui/dashboard-feed.js';

type Action = { verb: 'deploy' | 'restart'; service: ServiceSummary };

export default class Dashboard extends ClientCommand {
  static override summary = 'Full-screen live view of services, shards, apps, upstream proxies, downloads and events';
  static override description = `Shows services (state, health, current and previous version with launch time, instances ready, restarts, req/s), shards (total, req/s), apps (targets up, connections), the upstream proxy list (active group, health), the download queue, and the agent's events as they come. Panels change when the agent's events say so; rates are read every 2 s. Keys: up/down (or k/j) select a service, d deploys it and r restarts it (rolling) after a y/N question, q or Ctrl-C quits. Needs a terminal; for scripts use 'proxyctl events --json', 'proxyctl stats --json' or 'proxyctl service list --json'.`;

  static override examples = ['<%= config.bin %> dashboard'];

  async run(): Promise<void> {
    const { flags } = await this.parse(Dashboard);
    const stdin = process.stdin;
    const stdout = process.stdout;
    if (!stdout.isTTY || !stdin.isTTY) this.fail("dashboard needs a terminal (stdin and stdout a TTY); for scripts use 'proxyctl stats --json' or 'proxyctl service list --json'");
    const socket = this.socketPath(flags);
    const chalk = makeChalk(stdout);
    // First contact outside the full screen, so an absent agent is a plain one-line error (exit 3).
    const first = await ControlClient.connect(socket, { timeoutMs: 5000 });

    let selected = 0;
    let message: string | null = null;
    let pending: Action | null = null;
    let stopped = false;
    let wake: (() => void) | null = null;

    const draw = () => {
      if (stopped) return;
      const data = feed.data;
      selected = Math.min(selected, Math.max(0, data.services.length - 1));
      const question = pending ? `${pending.verb} ${pending.service.name}${pending.verb === 'deploy' ? ` v${pending.service.version ?? '-'} -> new version` : ' (rolling, same version)'}? [y/N]` : null;
      const lines = renderDashboard(data, { selected, message, error: feed.error, question, width: stdout.columns || 80, height: stdout.rows || 24, chalk });
      stdout.write('\x1b[H' + lines.map((l) => l + '\x1b[K').join('\n') + '\x1b[J');
    };
    const feed = new DashboardFeed(socket, first, draw);

    const act = async ({ verb, service }: Action) => {
      try {
        const client = feed.client;
        if (!client) throw new Error('not connected');
        const d = verb === 'deploy' ? await client.call('service.deploy', { service: service.name }) : await client.call('service.restart', { service: service.name });
        message = changed(`${d.kind} ${d.id} of ${d.service}`, `started, v${d.from_version ?? '-'} -> v${d.version}`);
      } catch (err) {
        message = chalk.red((err as Error).message);
      }
      await feed.refresh();
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
      if (key.ctrl && key.name === 'c') {
        restore();
        wake?.();
        return;
      }
      if (pending) {
        // A destructive change needs an explicit yes; anything else says no.
        const action = pending;
        pending = null;
        if (key.name === 'y') void act(action);
        else message = `${action.verb} of ${action.service.name} cancelled`;
        draw();
        return;
      }
      const services = feed.data.services;
      if (key.name === 'q') {
        restore();
        wake?.();
      } else if (key.name === 'up' || key.name === 'k') {
        selected = Math.max(0, selected - 1);
      } else if (key.name === 'down' || key.name === 'j') {
        selected = Math.min(Math.max(0, services.length - 1), selected + 1);
      } else if ((key.name === 'd' || key.name === 'r') && services[selected]) {
        pending = { verb: key.name === 'd' ? 'deploy' : 'restart', service: services[selected]! };
      }
      draw();
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
      await feed.start();
      draw();
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (stopped) resolve();
      });
    } finally {
      restore();
      feed.close();
      stdin.off('keypress', onKey);
      stdout.off('resize', draw);
      process.off('exit', restore);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    }
  }
}
