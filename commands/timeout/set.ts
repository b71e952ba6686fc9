import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { TimeoutInfo } from '../../src/upstream/commands.js';
import { renderTimeoutInfo } from '../../src/ui/render/proxy.js';

export default class TimeoutSet extends ClientCommand {
  static override summary = 'Set the timeouts through a proxy and without one, at run time';
  static override description =
    'As cvmfs_talk "timeout set PROXY DIRECT": new requests and health probes use them at once. Kept in the state DB across restarts until `proxyctl proxy reset`, which returns to proxy.timeout and proxy.timeout_direct of the config. Fractions are allowed. With --json: the new timeouts, as `timeout info --json`.';
  static override args = {
    proxy_s: Args.string({ description: 'timeout through a proxy, seconds (proxy.timeout)', required: true }),
    direct_s: Args.string({ description: 'timeout without a proxy, seconds (proxy.timeout_direct)', required: true }),
  };
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> timeout set 5 10', '<%= config.bin %> timeout set 2.5 5 --json'];

  async run(): Promise<TimeoutInfo> {
    const { args, flags } = await this.parse(TimeoutSet);
    const seconds = (name: string, input: string): number => {
      const n = Number(input);
      if (input.trim() === '' || !Number.isFinite(n) || n <= 0) this.usage(`timeout set: ${name} "${input}" is not a positive number of seconds`);
      return n;
    };
    const t = await this.call(this.socketPath(flags), 'timeout.set', { proxy_s: seconds('PROXY_S', args.proxy_s), direct_s: seconds('DIRECT_S', args.direct_s) });
    this.log(renderTimeoutInfo(t));
    return t;
  }
}
