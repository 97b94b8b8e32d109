/**
 * Stores of a study run side by side; deleting the study waits for the stores in progress and holds new ones
 * until it is done. A store that began before the deletion (its instance and series looked up, its file about
 * to be renamed into the study's folder) would otherwise index an instance into a study whose rows and folder
 * are being removed. A store that arrives during the deletion then runs after it, and starts the study anew.
 */
export class StudyGate {
  private readonly active = new Map<string, number>();
  private readonly closed = new Map<string, Promise<void>>();
  private readonly drained = new Map<string, () => void>();

  /** Runs a store of `studyUid`, after any deletion of it in progress. */
  async share<T>(studyUid: string, work: () => Promise<T>): Promise<T> {
    for (let closed = this.closed.get(studyUid); closed; closed = this.closed.get(studyUid)) await closed;
    this.active.set(studyUid, (this.active.get(studyUid) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const left = (this.active.get(studyUid) ?? 1) - 1;
      if (left > 0) this.active.set(studyUid, left);
      else {
        this.active.delete(studyUid);
        this.drained.get(studyUid)?.();
      }
    }
  }

  /** Whether a deletion of `studyUid` is waiting or under way: its files may already be out of place. */
  isClosed(studyUid: string): boolean {
    return this.closed.has(studyUid);
  }

  /** Runs `work` (a deletion of `studyUid`) alone: after the stores in progress, before any that arrive meanwhile. */
  async exclusive<T>(studyUid: string, work: () => Promise<T>): Promise<T> {
    for (let closed = this.closed.get(studyUid); closed; closed = this.closed.get(studyUid)) await closed;
    let open = (): void => undefined;
    this.closed.set(studyUid, new Promise<void>((resolve) => { open = resolve; }));
    try {
      if (this.active.has(studyUid)) await new Promise<void>((resolve) => this.drained.set(studyUid, resolve));
      return await work();
    } finally {
      this.drained.delete(studyUid);
      this.closed.delete(studyUid);
      open();
    }
  }
}
