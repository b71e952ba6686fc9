import { ClientCommand } from '../../src/cli/client-command.js';
import type { AgentInfo } from '../../src/agent/core-commands.js';
import { renderKeyValues } from '../../src/ui/table.js';
import { formatDuration } from '../../src/ui/format.js';

export default class AgentStatus extends ClientCommand {
  static override summary = 'Show the running agent: pid, version, uptime, socket, state dir, config, data-plane engine, metrics address';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> agent status', '<%= config.bin %> agent status --json'];

  async run(): Promise<AgentInfo> {
    const { flags } = await this.parse(AgentStatus);
    const info = await this.call(this.socketPath(flags), 'agent.status', {});
    const f = info.fleet;
    const fleet = f && `node ${f.node} of ${f.prefix}: ${f.connected ? `connected, config revision ${f.applied_revision}` : `disconnected since ${f.since}, serving config revision ${f.applied_revision}`}${f.error ? `; refused ${f.error}` : ''}`;
    this.log(renderKeyValues({ pid: info.pid, version: info.version, uptime: formatDuration(info.uptime_s), socket: info.socket, state_dir: info.state_dir, config: info.config_path ?? '(none: embedded defaults)', engine: info.engine ?? '-', metrics: info.metrics ?? '-', ...(fleet ? { fleet } : {}) }));
    return info;
  }
}
