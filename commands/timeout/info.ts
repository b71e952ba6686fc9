import { ClientCommand } from '../../src/cli/client-command.js';
import type { TimeoutInfo } from '../../src/upstream/commands.js';
import { renderTimeoutInfo } from '../../src/ui/render/proxy.js';

export default class TimeoutInfoCommand extends ClientCommand {
  static override summary = 'Show the connect/response timeouts through a proxy and without one';
  static override description =
    'As cvmfs_talk "timeout info": proxy.timeout (through a proxy, also the health probe timeout) and proxy.timeout_direct (DIRECT), in seconds, marked "(timeout set)" when changed at run time. With --json: {proxy_s, direct_s, source: {proxy, direct}} where a source is "config" or "run-time".';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> timeout info', '<%= config.bin %> timeout info --json'];

  async run(): Promise<TimeoutInfo> {
    const { flags } = await this.parse(TimeoutInfoCommand);
    const t = await this.call(this.socketPath(flags), 'timeout.info', {});
    this.log(renderTimeoutInfo(t));
    return t;
  }
}
