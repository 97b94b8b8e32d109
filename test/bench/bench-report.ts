/** One row of the comparison: mipseg's value, Orthanc's, and whether higher or lower is better. */
export interface ComparisonRow {
  readonly metric: string;
  readonly mipseg: number;
  readonly orthanc: number;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** The goal on mipseg/Orthanc: at least (higher) or at most (lower) this ratio. */
  readonly goal?: number;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function verdict(row: ComparisonRow, ratio: number): string {
  if (row.goal === undefined) return '';
  const met = row.better === 'higher' ? ratio >= row.goal : ratio <= row.goal;
  return `${row.better === 'higher' ? '≥' : '≤'} ${row.goal}×: ${met ? 'met' : '**missed**'}`;
}

/** A Markdown table: metric | mipseg | Orthanc | ratio (mipseg/Orthanc) | goal. */
export function comparisonTable(rows: readonly ComparisonRow[]): string {
  const lines = ['| metric | mipseg | Orthanc | ratio (mipseg/Orthanc) | goal |', '| --- | ---: | ---: | ---: | --- |'];
  for (const row of rows) {
    const ratio = row.mipseg / row.orthanc;
    lines.push(`| ${row.metric} (${row.unit}) | ${fmt(row.mipseg)} | ${fmt(row.orthanc)} | ${ratio.toFixed(2)} | ${verdict(row, ratio)} |`);
  }
  return lines.join('\n');
}
