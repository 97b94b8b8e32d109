/** Flag parsing shared by the benchmark scripts: `--flag value` pairs and bounded integers. */
export function flagsFromArgv<K extends string>(argv: readonly string[], flags: Readonly<Record<string, K>>, usage: string): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = flags[argv[i] ?? ''];
    const value = argv[i + 1];
    if (!key || value === undefined) throw new Error(`unknown or incomplete argument "${argv[i]}"\n${usage}`);
    out[key] = value;
  }
  return out;
}

export function boundedInt(raw: string, key: string, min: number, max: number, usage: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${key}=${raw} (an integer from ${min} to ${max})\n${usage}`);
  return n;
}
