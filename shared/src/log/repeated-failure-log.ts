import type { Logger } from './logger';

/** How often, at most, a failure that keeps recurring is summarised in the log. */
export const FAILURE_SUMMARY_INTERVAL_MS = 30_000;

export interface RepeatedFailureLogOptions {
  /** What failed, as the log message: "job runner tick failed". */
  readonly message: string;
  /** The one line when it works again: "job runner ticks again". */
  readonly recoveredMessage: string;
  readonly level?: 'warn' | 'error';
  readonly summaryIntervalMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

function briefly(err: unknown): { message: string; code?: unknown } {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return code === undefined ? { message: err.message } : { message: err.message, code };
}

/**
 * The log of a condition that fails the same way many times a second while it lasts (Redis unreachable,
 * the disk full): the first failure in full, with its stack; then at most one summary per interval, with
 * how many failed since and the latest error's message; and one line when it recovers. Without it such a
 * condition writes thousands of identical stack traces that bury everything else and can fill the disk.
 */
export class RepeatedFailureLog {
  private firstAt: number | undefined;
  private lastLoggedAt = 0;
  private total = 0;
  private sinceLogged = 0;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly log: Logger, private readonly options: RepeatedFailureLogOptions) {
    this.interval = options.summaryIntervalMs ?? FAILURE_SUMMARY_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Whether the condition is under way (failed, and not recovered since). */
  get failing(): boolean {
    return this.firstAt !== undefined;
  }

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    const now = this.now();
    this.total++;
    const level = this.options.level ?? 'error';
    if (this.firstAt === undefined) {
      this.firstAt = now;
      this.lastLoggedAt = now;
      this.log[level]({ ...fields, err }, this.options.message);
      return;
    }
    this.sinceLogged++;
    if (now - this.lastLoggedAt < this.interval) return;
    this.log[level]({ ...fields, failures: this.sinceLogged, failingForMs: now - this.firstAt, lastError: briefly(err) },
      `${this.options.message} (still failing)`);
    this.lastLoggedAt = now;
    this.sinceLogged = 0;
  }

  /** It worked: one line if it had been failing, nothing otherwise (call it after every success). */
  recovered(fields: Record<string, unknown> = {}): void {
    if (this.firstAt === undefined) return;
    this.log.info({ ...fields, failures: this.total, failedForMs: this.now() - this.firstAt }, this.options.recoveredMessage);
    this.firstAt = undefined;
    this.total = 0;
    this.sinceLogged = 0;
  }
}
