import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';

/**
 * The keys of a JSON object's top level as written, duplicates included: JSON.parse keeps only the last of a
 * repeated key, so it cannot tell.
 */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (depth === 1 && json[end + 1] === ':') keys.push(JSON.parse(json.slice(i, end + 1)) as string);
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('mipseg serve log lines', () => {
  let dataDir: string;
  let mipseg: MipsegProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-log-keys-'));
  });
  afterAll(async () => {
    if (mipseg) await killAndWait(mipseg.child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('name each key once: the analysis threads\' line has one component, the pipeline, and names the pool apart', async () => {
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    const lines = mipseg.output().split('\n').filter((l) => l.startsWith('{'));
    const repeated = lines.map((l) => topLevelKeys(l)).filter((keys) => new Set(keys).size !== keys.length);
    expect(repeated).toEqual([]);
    const threads = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'analysis threads started');
    expect(threads).toMatchObject({ component: 'pipeline', subcomponent: 'analysis-threads' });
  });
});
