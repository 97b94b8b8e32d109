import { Counter, type Registry } from 'prom-client';
import type { MipsegError } from '@mipseg/shared/errors';
import type { Archive, ReceivedFile, StoreOptions, StoreOutcome } from '@mipseg/shared/store';

/** How an instance came in: DICOMweb STOW-RS or DIMSE C-STORE. */
export type IngestRoute = 'stowrs' | 'cstore';

/** What became of a received instance (StoreOutcome), as a bounded label value. */
type IngestOutcome = 'stored' | 're-sent-same' | 'replaced' | 'refused';

/**
 * Studies whose last stored instance is remembered, for the result latency (JobMetrics): a few hundred kilobytes at
 * most; a study past it (its analysis still to come when 10,000 others arrived since) is only left out of the histogram.
 */
const STUDIES_REMEMBERED = 10_000;

/**
 * What a counting archive (IngestMetrics.counting) has besides the archive's own: the count of an instance refused
 * while it arrived (a STOW part of another type, one over MAX_INSTANCE_BYTES, no room for it), which never reaches
 * storeReceived. STOW-RS and C-STORE call it where the archive they were given has it; a plain Archive has not.
 */
export interface ArrivalRefusals {
  readonly refusedWhileArriving?: (error: MipsegError, bytes: number) => void;
}

function outcomeOf(outcome: StoreOutcome): IngestOutcome {
  if (outcome.status === 'failed') return 'refused';
  if (outcome.status === 'unchanged') return 're-sent-same';
  return outcome.replaced ? 'replaced' : 'stored';
}

/**
 * Counts the instances the archive is given by STOW-RS and C-STORE, by what became of them, and remembers when each
 * study last had one stored. mipseg's own results (StoreOptions.result) are not counted: they are not received.
 */
export class IngestMetrics {
  private readonly instances: Counter<'route' | 'outcome' | 'error_code'>;
  private readonly bytes: Counter<'route'>;
  /** Per StudyInstanceUID, when an instance of it was last stored (ms); oldest first, so the first is dropped past the bound. */
  private readonly lastStored = new Map<string, number>();

  constructor(registry: Registry, private readonly now: () => number = Date.now) {
    this.instances = new Counter({ name: 'mipseg_instances_received_total', registers: [registry], labelNames: ['route', 'outcome', 'error_code'],
      help: 'Instances received by route (stowrs, cstore) and outcome: stored (new), re-sent-same (already held, nothing changed), '
        + 'replaced (a different copy of a stored instance), refused (error_code says why, from docs/errors.md)' });
    this.bytes = new Counter({ name: 'mipseg_ingest_bytes_total', registers: [registry], labelNames: ['route'],
      help: 'Bytes of the instances received (whatever their outcome), by route (stowrs, cstore)' });
  }

  /**
   * The archive as `route` stores through it: every other property is the archive's own, bound to it, and only the
   * stores of that route are counted (the rest of the service keeps the archive itself).
   */
  counting(archive: Archive, route: IngestRoute): Archive {
    const storeReceived = async (file: ReceivedFile, options?: StoreOptions): Promise<StoreOutcome> => {
      const outcome = await archive.storeReceived(file, options);
      if (options?.result !== true) this.count(route, file.size, outcome);
      return outcome;
    };
    const refusedWhileArriving: ArrivalRefusals['refusedWhileArriving'] = (error, bytes) =>
      this.count(route, bytes, { status: 'failed', error });
    return new Proxy(archive, {
      get: (target, property): unknown => {
        if (property === 'storeReceived') return storeReceived;
        if (property === 'refusedWhileArriving') return refusedWhileArriving;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** When an instance of the study was last stored (new or replacing), since this process started; undefined if unknown. */
  lastStoredAt(studyInstanceUid: string): number | undefined {
    return this.lastStored.get(studyInstanceUid);
  }

  private count(route: IngestRoute, size: number, outcome: StoreOutcome): void {
    const result = outcomeOf(outcome);
    this.instances.inc(outcome.status === 'failed' ? { route, outcome: result, error_code: outcome.error.code } : { route, outcome: result });
    this.bytes.inc({ route }, size);
    if (outcome.status !== 'stored') return;
    const study = outcome.header.studyInstanceUid;
    this.lastStored.delete(study);
    this.lastStored.set(study, this.now());
    if (this.lastStored.size > STUDIES_REMEMBERED) this.lastStored.delete(this.lastStored.keys().next().value as string);
  }
}
