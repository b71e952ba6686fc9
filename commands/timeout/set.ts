import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TimeoutInfo } from '../../src/upstream/commands.js';
import { renderTimeoutInfo } from '../../src/upstream/render.js';

const seconds = Args.custom<number>({
  parse: async (input) => {
    const n = Number(input);
    if (input.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`"${input}" is not a positive number of seconds`);
    return n;
  },
});

export default class TimeoutSet extends ClientCommand {
  static override summary = 'Set the timeouts through a proxy and without one, at run time';
  static override description =
    'As cvmfs_talk "timeout set PROXY DIRECT": new requests and health probes use them at once. Kept in the state DB across restarts until `proxyctl proxy reset`, which returns to proxy.timeout and proxy.timeout_direct of the config. Fractions are allowed. With --json: the new timeouts, as `timeout info --json`.';
  static override args = {
    proxy_s: seconds({ description: 'timeout through a proxy, seconds (proxy.timeout)', required: true }),
    direct_s: seconds({ description: 'timeout without a proxy, seconds (proxy.timeout_direct)', required: true }),
  };
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> timeout set 5 10', '<%= config.bin %> timeout set 2.5 5 --json'];

  async run(): Promise<TimeoutInfo> {
    const { args, flags } = await this.parse(TimeoutSet);
    const t = await this.call(this.socketPath(flags), 'timeout.set', { proxy_s: args.proxy_s, direct_s: args.direct_s });
    this.log(renderTimeoutInfo(t));
    return t;
  }
}
