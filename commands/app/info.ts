import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppInfo } from '../../src/forward/app.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { formatBytes } from '../../src/ui/format.js';
import { renderKeyValues, renderTable } from '../../src/ui/table.js';

export default class AppInfoCommand extends ClientCommand {
  static override summary = 'Show one app proxy: ports, targets with health and state, connections, bytes, failures, Foo counters';
  static override enableJsonFlag = true;
  static override args = {
    name: Args.string({ description: 'app name (see `proxyctl app list`)', required: true }),
  };
  static override examples = ['<%= config.bin %> app info echo', '<%= config.bin %> app info echo --json'];

  async run(): Promise<AppInfo> {
    const { args, flags } = await this.parse(AppInfoCommand);
    const a = await this.call(this.socketPath(flags), 'app.info', { name: args.name });
    const c = makeChalk();
    this.log(
      renderKeyValues({
        app: a.name,
        protocol: a.protocol,
        engine: a.engine,
        balance: a.balance,
        bind: a.bind,
        connections: `${a.active} active, ${a.total} total, ${a.rejected} rejected (${a.rejected_by.max_connections} max_connections, ${a.rejected_by.fd_limit} fd_limit), ${a.no_target} without a target`,
        connect_failures: a.connect_failures,
        bytes: `${formatBytes(a.bytes_in)} in, ${formatBytes(a.bytes_out)} out`,
      }),
    );
    this.log('');
    this.log(renderTable(['port', 'bound', 'state', 'error'], a.ports.map((p) => [p.port, p.bound_port ?? '-', stateColour(c, p.state), p.error ?? ''])));
    this.log('');
    if (a.targets.length === 0) this.log('no targets');
    else
      this.log(
        renderTable(
          ['target', 'health', 'state', 'source', 'active', 'total', 'in', 'out', 'failures', 'last error'],
          a.targets.map((t) => [
            t.address,
            stateColour(c, t.health),
            stateColour(c, t.state),
            t.source,
            t.active,
            t.total,
            formatBytes(t.bytes_in),
            formatBytes(t.bytes_out),
            `${t.connect_failures} connect, ${t.check_failures} check`,
            t.last_error ?? '',
          ]),
        ),
      );
    if (a.foo) {
      this.log('');
      this.log(renderKeyValues({ ...a.foo }));
    }
    return a;
  }
}
