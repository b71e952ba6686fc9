/**
 * What services (src/deploy) need from the app proxies: fill an app's targets
 * at run time. Implemented in src/forward; consumed by src/deploy, which depends
 * on this file only, never on forward internals.
 *
 * A dynamic target starts `up` (the service has already probed it ready) and is
 * health-checked like any other; static targets from the config stay as they are.
 */
export interface AppTargets {
  hasApp(app: string): boolean;
  /**
   * Where the app listens now, in its config's port order: the bound address
   * and port (a configured port 0 resolved to the kernel's choice). A port
   * that could not be opened is left out; an unknown app has none.
   */
  listening(app: string): Array<{ host: string; port: number }>;
  /** Adds a target to the app; new connections may use it at once. Adding an existing one is a no-op. */
  addTarget(app: string, address: string): void;
  /**
   * Stops new connections to the target and forgets it; open connections run
   * to their end. Resolves when the last of them has closed, or after
   * `timeoutMs` (default: never times out) — the connections are not cut.
   */
  removeTarget(app: string, address: string, opts?: { timeoutMs?: number }): Promise<void>;
  /** Open client connections through the app to this target now. */
  connections(app: string, address: string): number;
}
