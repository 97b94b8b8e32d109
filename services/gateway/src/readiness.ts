import type { Request, Response } from 'express';
import { withTimeout } from '@mipseg/shared/async';
import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import type { Archive } from '@mipseg/shared/store';

/**
 * Something the service needs in order to work, asked by /readyz: `check` returns (or resolves) when it is usable
 * and throws (or rejects) when not; the error's message goes to the log, its `code` (if any) to the client.
 */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void> | void;
  /**
   * false: a failure is reported (and logged) but /readyz still answers 200, naming the check under `degraded`.
   * For what the service can work without for a while, such as the job queue that ingest does not wait for:
   * taking every gateway out of service when it fails would stop studies arriving that it could store.
   */
  readonly required?: boolean;
}

/** Longest a check may take: a queue whose Redis is unreachable would otherwise keep /readyz waiting for ever. */
const CHECK_TIMEOUT_MS = 2000;

class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
  constructor(readonly reason: string, detail: string) {
    super(detail);
  }
}

/** The index answers the queries QIDO runs (a corrupted file answers "database disk image is malformed" there). */
function indexCheck(archive: Archive): ReadinessCheck {
  return {
    name: 'index',
    check: () => {
      archive.index.search({ level: 'study', filters: [], limit: 1, offset: 0 });
      archive.index.search({ level: 'instance', filters: [], limit: 1, offset: 0 });
      archive.index.countInstances();
    },
  };
}

/**
 * DATA_DIR takes writes: a volume the kernel remounted read-only after an I/O error (EROFS) still answers every read
 * check while each STOW and C-STORE fails. A small file is written under tmp/ and removed.
 */
function writableCheck(archive: Archive): ReadinessCheck {
  return {
    name: 'writable',
    check: async () => {
      const probe = archive.blobs.createTemp();
      try {
        await new Promise<void>((resolve, reject) => {
          probe.stream.once('error', reject);
          probe.stream.end('readiness probe', (err?: Error | null) => (err ? reject(err) : resolve()));
        });
      } finally {
        await archive.blobs.discardTemp(probe.path).catch(() => undefined);
      }
    },
  };
}

/** DATA_DIR's volume has room for more instances (and for the index to grow with them). */
function diskCheck(archive: Archive, minFreeBytes: number): ReadinessCheck {
  return {
    name: 'disk',
    check: async () => {
      const free = await archive.blobs.freeBytes();
      if (free < minFreeBytes) {
        throw new CheckFailed('free space below MIN_FREE_DISK_BYTES', `${free} bytes free, MIN_FREE_DISK_BYTES is ${minFreeBytes}`);
      }
    },
  };
}

/** What a client of the unauthenticated /readyz may see of a failure: no message, which can name files. */
function publicReason(err: unknown): string {
  if (err instanceof CheckFailed) return err.reason;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? `failed (${code})` : 'failed';
}

type Outcome = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly detail: string };

/**
 * Runs a check, at most one at a time: probes that come while one is running wait for it, for up to the timeout each,
 * rather than start another beside it. A check that hangs (a stalled volume) stays the one they wait for until it
 * settles: each new one would hold another of libuv's four threads, and file I/O everywhere would stall behind them.
 */
function guarded(check: ReadinessCheck): () => Promise<Outcome> {
  let running: Promise<void> | undefined;
  return async (): Promise<Outcome> => {
    running ??= (async () => check.check())().finally(() => { running = undefined; });
    try {
      await withTimeout(running, CHECK_TIMEOUT_MS, () => new CheckFailed(`no answer within ${CHECK_TIMEOUT_MS} ms`, 'timed out'));
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: publicReason(err), detail: err instanceof Error ? err.message : String(err) };
    }
  };
}

/**
 * GET /readyz: 200 when every check passes, else 503 naming each failed one. Liveness is /healthz's; this says
 * whether the service can do its work (an orchestrator stops sending to it meanwhile). A check's change of state
 * is logged once, not on every probe.
 */
export function readinessHandler(archive: Archive, config: Config, log: Logger, extra: readonly ReadinessCheck[]) {
  const checks = [indexCheck(archive), writableCheck(archive), ...(config.minFreeDiskBytes > 0 ? [diskCheck(archive, config.minFreeDiskBytes)] : []), ...extra];
  const runs = checks.map((c) => ({ name: c.name, required: c.required !== false, run: guarded(c) }));
  const reported = new Map(checks.map((c) => [c.name, 'ok']));
  const logChange = (name: string, required: boolean, outcome: Outcome): void => {
    const reason = outcome.ok ? 'ok' : outcome.reason;
    if (reported.get(name) === reason) return;
    reported.set(name, reason);
    if (outcome.ok) log.info({ check: name }, 'readiness check passes again');
    else log.warn({ check: name, reason, detail: outcome.detail }, `readiness check failed: /readyz answers ${required ? '503' : '200, degraded'}`);
  };
  return async (_req: Request, res: Response): Promise<void> => {
    const outcomes = await Promise.all(runs.map(({ run }) => run()));
    const checksReport: Record<string, string> = {};
    const failed: string[] = [];
    const degraded: string[] = [];
    runs.forEach(({ name, required }, k) => {
      const outcome = outcomes[k] as Outcome;
      logChange(name, required, outcome);
      checksReport[name] = outcome.ok ? 'ok' : outcome.reason;
      if (!outcome.ok) (required ? failed : degraded).push(name);
    });
    const extra = degraded.length ? { degraded } : {};
    if (failed.length) res.status(503).json({ status: 'not ready', failed, ...extra, checks: checksReport });
    else res.json({ status: 'ready', ...extra, checks: checksReport });
  };
}
