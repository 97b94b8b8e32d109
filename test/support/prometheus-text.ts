/**
 * A strict reader of Prometheus's text exposition format (version 0.0.4), for tests: every line must be a HELP, a
 * TYPE or a sample of a family declared before it, or it throws, naming the line.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  help: string;
  type: string;
  readonly samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/;
/** The samples a family of each type may have besides its own name. */
const SUFFIXES: Readonly<Record<string, readonly string[]>> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] };

/** Values as Prometheus reads them (Go's ParseFloat): Inf and NaN in any case ("Nan" is prom-client's NaN). */
function parseValue(text: string, line: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  const value = Number(text);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || Number.isNaN(value)) throw new Error(`not a value: ${line}`);
  return value;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let rest = text; rest !== '';) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`labels not readable: ${line}`);
    const [whole, name, raw] = m as unknown as [string, string, string];
    if (name in labels) throw new Error(`label ${name} twice: ${line}`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
  }
  return labels;
}

function familyOf(families: Map<string, MetricFamily>, sample: string, line: string): MetricFamily {
  const own = families.get(sample);
  if (own) return own;
  for (const [name, family] of families) {
    if ((SUFFIXES[family.type] ?? []).some((suffix) => sample === `${name}${suffix}`)) return family;
  }
  throw new Error(`a sample of no declared family: ${line}`);
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const declared = (name: string): MetricFamily => {
    let family = families.get(name);
    if (!family) families.set(name, (family = { name, help: '', type: 'untyped', samples: [] }));
    return family;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = HELP.exec(line);
    const type = TYPE.exec(line);
    if (help) declared(help[1] as string).help = help[2] as string;
    else if (type) declared(type[1] as string).type = type[2] as string;
    else if (line.startsWith('#')) throw new Error(`an unknown comment: ${line}`);
    else {
      const m = SAMPLE.exec(line);
      if (!m) throw new Error(`not a sample: ${line}`);
      const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
      const sample = { name, labels: parseLabels(labelText ?? '', line), value: parseValue(valueText, line) };
      const key = `${name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
      if (seen.has(key)) throw new Error(`a series twice: ${line}`);
      seen.add(key);
      familyOf(families, name, line).samples.push(sample);
    }
  }
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; undefined where none, an error where several. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = [...families.values()].flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length > 1) throw new Error(`${matching.length} samples of ${name} ${JSON.stringify(labels)}`);
  return matching[0]?.value;
}
