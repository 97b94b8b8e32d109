import type { StudiesChangedEvent } from './api-types.js';

export type StudiesChangedListener = (studies: ReadonlySet<string>) => void;

/**
 * The gateway's server-sent events (GET /api/worklist/events): one EventSource for the page, shared by the views.
 * EventSource reconnects by itself; after a reconnect every view refreshes, since events may have been missed.
 */
export class StudyEventStream {
  private source: EventSource | undefined;
  private readonly listeners = new Set<StudiesChangedListener>();
  private connected = false;

  subscribe(listener: StudiesChangedListener): () => void {
    this.listeners.add(listener);
    this.open();
    return () => this.listeners.delete(listener);
  }

  private open(): void {
    if (this.source) return;
    const source = new EventSource('/api/worklist/events');
    source.addEventListener('studies', (e) => {
      const { studies } = JSON.parse((e as MessageEvent<string>).data) as StudiesChangedEvent;
      this.emit(new Set(studies));
    });
    source.addEventListener('open', () => {
      if (this.connected) this.emit(new Set(['*']));
      this.connected = true;
      document.body.dataset['live'] = 'on';
    });
    source.addEventListener('error', () => {
      document.body.dataset['live'] = 'off';
    });
    this.source = source;
  }

  private emit(studies: ReadonlySet<string>): void {
    for (const listener of this.listeners) listener(studies);
  }

  close(): void {
    this.source?.close();
    this.source = undefined;
    this.connected = false;
  }
}
