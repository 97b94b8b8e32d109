import { sendFiles } from '../../services/cli/src/send';
import type { BenchTarget } from './bench-target';
import type { SeriesCopy } from './series-copies';

export interface IngestTotals {
  instances: number;
  failed: number;
  bytes: number;
  seconds: number;
  /** Seconds per copy, in the order the copies were sent (the store grows as they go). */
  readonly perCopy: number[];
  readonly statuses: Set<number>;
}

function emptyTotals(): IngestTotals {
  return { instances: 0, failed: 0, bytes: 0, seconds: 0, perCopy: [], statuses: new Set<number>() };
}

/**
 * Stores every copy in every target by STOW-RS with the same client and batch size, copy by copy, the
 * targets' order alternating from one copy to the next so that neither always goes first while the
 * machine's background load comes and goes.
 */
export async function ingestCopies(copies: readonly SeriesCopy[], targets: readonly BenchTarget[],
  batchSize: number): Promise<Map<string, IngestTotals>> {
  const totals = new Map(targets.map((t) => [t.name, emptyTotals()]));
  for (const copy of copies) {
    const order = copy.index % 2 === 0 ? targets : [...targets].reverse();
    const line: string[] = [];
    for (const target of order) {
      const sent = await sendFiles(copy.files, { url: target.dicomwebUrl, batchSize, progress: false });
      const t = totals.get(target.name) as IngestTotals;
      t.instances += sent.stored;
      t.failed += sent.failed + (sent.files - sent.stored - sent.failed);
      t.bytes += sent.bytes;
      t.seconds += sent.seconds;
      t.perCopy.push(sent.seconds);
      sent.statuses.forEach((s) => t.statuses.add(s));
      line.push(`${target.name} ${sent.seconds.toFixed(2)} s`);
    }
    process.stderr.write(`  copy ${copy.index + 1}/${copies.length}: ${line.join(', ')}\n`);
  }
  return totals;
}
