import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { ProxyctlError } from '../errors.js';
import { resolveSocketPath } from '../config/paths.js';
import { ControlClient, callOnce } from '../control/client.js';
import type { Methods } from '../control/methods.js';
import { PromptCancelled } from '../ui/prompt.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, exitCodeFor } from './exit-codes.js';

/**
 * The base of every command that talks to the agent: `--socket`, one typed call
 * (connection always closed, or the CLI would never exit), and the mapping of
 * errors to exit codes that holds with and without --json.
 */
export abstract class ClientCommand extends Command {
  static override baseFlags = {
    socket: Flags.string({
      description: 'control socket of the agent [default: $PROXYCTL_SOCKET, else <state dir>/agent.sock]',
      env: 'PROXYCTL_SOCKET',
      helpGroup: 'GLOBAL',
    }),
    'state-dir': Flags.string({
      description: 'state directory locating the socket [default: $PROXYCTL_STATE_DIR, $XDG_STATE_HOME/proxyctl, ~/.local/state/proxyctl]',
      env: 'PROXYCTL_STATE_DIR',
      helpGroup: 'GLOBAL',
    }),
  };

  protected socketPath(flags: { socket?: string | undefined; 'state-dir'?: string | undefined }): string {
    return resolveSocketPath({ socket: flags.socket, stateDir: flags['state-dir'] });
  }

  /** One call on a fresh connection. */
  protected call<M extends keyof Methods>(socket: string, method: M, params: Methods[M]['params']): Promise<Methods[M]['result']> {
    return callOnce(socket, method, params);
  }

  /** Several calls on one connection (polling for --wait, watch); closed when `fn` settles. */
  protected async withClient<T>(socket: string, fn: (client: ControlClient) => Promise<T>): Promise<T> {
    const client = await ControlClient.connect(socket);
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  /** A usage error found by the command itself (exit 2). */
  protected usage(message: string): never {
    throw ownError(message, EXIT_USAGE);
  }

  /** A failed operation (exit 1), e.g. a download that ended in `failed`. */
  protected fail(message: string, code = EXIT_FAILED): never {
    throw ownError(message, code);
  }

  protected override toErrorJson(err: unknown): unknown {
    if (err instanceof ProxyctlError) return { error: { code: err.code, message: err.message } };
    const e = err as Errors.CLIError;
    return { error: { code: e.oclif?.exit === EXIT_USAGE ? 'PXC_ERR_USAGE' : 'PXC_ERR_CLI', message: e.message } };
  }

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    // Ctrl-C at a prompt: the user's answer, not an error (as a shell's 130 for SIGINT).
    if (err instanceof PromptCancelled) {
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    // Expected errors become one line and an exit code; --json or not, the code is the same.
    if (err instanceof ProxyctlError) {
      process.exitCode = exitCodeFor(err.code);
      if (this.jsonEnabled()) this.logJson(this.toErrorJson(err));
      else process.stderr.write(oneLineError(err.message));
      return;
    }
    const exit = (err as Partial<Errors.CLIError>).oclif?.exit ?? EXIT_FAILED;
    err.exitCode = exit;
    if (!this.jsonEnabled() && printOwnError(err)) return;
    return super.catch(err);
  }
}

/** `proxyctl: message` as the CLI prints every expected error (oclif would wrap and prefix it). */
export function oneLineError(message: string): string {
  return `proxyctl: ${message}\n`;
}

const OWN = Symbol('proxyctl own error');

/** An error a command raises itself (usage(), fail()): printed by printOwnError, exit `exit`. */
export function ownError(message: string, exit: number): Errors.CLIError {
  const err = new Errors.CLIError(message, { exit });
  Object.defineProperty(err, OWN, { value: true });
  return err;
}

/**
 * A command's own error (ownError: usage(), fail()) printed like the agent's errors: one
 * unwrapped `proxyctl: …` line, with its exit code. oclif's own errors (flag parsing and
 * validation) are left to oclif, whose format points at --help. True when printed.
 */
export function printOwnError(err: unknown): boolean {
  if (!(err instanceof Errors.CLIError) || !(OWN in err)) return false;
  process.exitCode = err.oclif?.exit ?? EXIT_FAILED;
  process.stderr.write(oneLineError(err.message));
  return true;
}
