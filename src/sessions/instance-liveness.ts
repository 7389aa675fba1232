/**
 * Which processes that write the store are alive, decided without PIDs (a restarted
 * gateway may get the PID of the one it replaces). Each writing process gets an
 * instance id per boot and holds a lock for its lifetime that the operating system (or
 * the database server) releases when it dies, SIGKILL included. A turn records the
 * instance running it; a `running` turn whose instance is not alive was cut short.
 */
export interface InstanceLiveness {
  /** This process's instance id: a new UUID each time the store is opened. */
  readonly self: string;
  /**
   * True while instance `id` holds its lock (this process's own id included); false once
   * it has ended, however it ended. A dead instance stays dead.
   */
  instanceAlive(id: string): boolean;
  /** Releases this instance's lock (at close). */
  close(): void;
}

/** For a store no other process can open (`:memory:`): only this instance exists. */
export function soleInstance(self: string): InstanceLiveness {
  return { self, instanceAlive: (id) => id === self, close: () => undefined };
}
