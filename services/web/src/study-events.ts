import { AuthRequiredError, fetchSession } from './api.js';
import type { StreamPingEvent, StudiesChangedEvent } from './api-types.js';
import { backoffDelayMs } from './backoff.js';
import { setLive } from './live-indicator.js';

export type StudiesChangedListener = (studies: ReadonlySet<string>) => void;

/** Pings' time without any event after which a stream counts as dead: one late ping is no outage, two are. */
const MISSED_PINGS = 2.5;

/**
 * The gateway's server-sent events (GET /api/worklist/events): one EventSource for the page, shared by the views.
 * Once the stream's first event arrives (and again after a reconnect) every view refreshes, since events may have
 * been missed. The first event, not 'open': a proxy that passes the headers on but buffers the body opens the stream
 * and delivers nothing, which must not show "Live" nor count as a working connection.
 *
 * EventSource reconnects by itself only after a network error. A reconnect answered with anything but a 200 event
 * stream (401 once the session cookie has expired, 502 from a proxy while the gateway restarts) closes it for good,
 * so then this asks an authenticated API whether the session still holds: if not, `onAuthRequired` (the login
 * form); otherwise a new EventSource after a backoff, 1 s doubling to 30 s.
 *
 * A connection can also go half-open (a laptop asleep, a VPN switch): nothing arrives and no error comes. The gateway
 * sends `ping` every `intervalMs` (the ping says how often), so a stream with no event for MISSED_PINGS times that is
 * closed and opened again the same way, shown as not live meanwhile.
 */
export class StudyEventStream {
  private source: EventSource | undefined;
  private readonly listeners = new Set<StudiesChangedListener>();
  private failures = 0;
  private retryTimer: number | undefined;
  /** Learnt from the first ping; until then (a gateway without pings) no watchdog. */
  private pingIntervalMs: number | undefined;
  private watchdog: number | undefined;
  /** Whether the current stream has delivered an event. */
  private connected = false;
  /** Bumped by close(): a probe or timer of an earlier stream then does nothing. */
  private generation = 0;

  constructor(private readonly onAuthRequired: () => void) {}

  subscribe(listener: StudiesChangedListener): () => void {
    this.listeners.add(listener);
    this.open();
    return () => this.listeners.delete(listener);
  }

  private open(): void {
    if (this.source || this.retryTimer !== undefined) return;
    const source = new EventSource('/api/worklist/events');
    source.addEventListener('studies', (e) => {
      this.heardFrom(source);
      const { studies } = JSON.parse((e as MessageEvent<string>).data) as StudiesChangedEvent;
      this.emit(new Set(studies));
    });
    source.addEventListener('ping', (e) => {
      this.pingIntervalMs = (JSON.parse((e as MessageEvent<string>).data) as StreamPingEvent).intervalMs;
      this.heardFrom(source);
    });
    source.addEventListener('error', () => {
      this.connected = false;
      setLive(false);
      if (source.readyState === EventSource.CLOSED && source === this.source) void this.reopen();
    });
    this.source = source;
    this.connected = false;
    // Also before any event: a stream that never connects (no headers, no error) is given up like a silent one.
    this.restartWatchdog(source);
  }

  /** `source` is alive: the first time, it now counts as connected; the watchdog starts again. */
  private heardFrom(source: EventSource): void {
    if (source !== this.source) return;
    if (!this.connected) {
      this.connected = true;
      this.failures = 0;
      setLive(true);
      // Every view refreshes, on the first stream too: the server compares its polls with the state at the stream's
      // first poll, so a change between a view's own read and that poll would never be sent.
      this.emit(new Set(['*']));
    }
    this.restartWatchdog(source);
  }

  private restartWatchdog(source: EventSource): void {
    window.clearTimeout(this.watchdog);
    if (this.pingIntervalMs === undefined) return;
    this.watchdog = window.setTimeout(() => {
      if (source !== this.source) return;
      setLive(false);
      void this.reopen();
    }, this.pingIntervalMs * MISSED_PINGS);
  }

  private async reopen(): Promise<void> {
    window.clearTimeout(this.watchdog);
    this.source?.close();
    this.source = undefined;
    const generation = this.generation;
    try {
      await fetchSession();
    } catch (err) {
      if (generation === this.generation && err instanceof AuthRequiredError) return this.onAuthRequired();
      // Anything else (the gateway still down, a proxy error): the stream is tried again below, and with it the probe.
    }
    if (generation !== this.generation) return;
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, backoffDelayMs(this.failures++));
  }

  private emit(studies: ReadonlySet<string>): void {
    for (const listener of this.listeners) listener(studies);
  }

  close(): void {
    this.generation++;
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.watchdog);
    this.retryTimer = undefined;
    this.source?.close();
    this.source = undefined;
    this.failures = 0;
  }
}
