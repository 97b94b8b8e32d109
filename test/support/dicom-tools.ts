import { spawnSync } from 'node:child_process';

/** dciodvfy's verdict on a file: its Error (and Abort: unreadable file) and Warning lines, file name stripped. */
export interface DciodvfyReport {
  readonly errors: string[];
  readonly warnings: string[];
}

export function dciodvfy(path: string): DciodvfyReport {
  const run = spawnSync('dciodvfy', [path], { encoding: 'utf8', timeout: 120_000 });
  if (run.error) throw new Error(`dciodvfy cannot run (apt-get install dicom3tools): ${run.error.message}`);
  const lines = `${run.stdout}${run.stderr}`.split('\n').map((l) => l.replace(path, '<file>'));
  return { errors: lines.filter((l) => /^\s*(Error|Abort)/.test(l)), warnings: lines.filter((l) => /^\s*Warning/.test(l)) };
}

/** dcmdump's output; throws when dcmtk cannot parse the file. */
export function dcmdump(path: string): string {
  const run = spawnSync('dcmdump', ['-q', path], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw new Error(`dcmdump cannot run (apt-get install dcmtk): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`dcmdump exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}

export const PYTHON = '/usr/bin/python3';

/**
 * Whether /usr/bin/python3 has pydicom and numpy. Where not, the caller skips with a visible message; under
 * CI=true a missing pydicom is a failure, so CI cannot pass without the cross-check.
 */
export function pydicomAvailable(): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import pydicom, numpy'], { encoding: 'utf8', timeout: 60_000 });
  if (probe.status === 0) return true;
  const reason = `${PYTHON} cannot import pydicom/numpy (apt-get install python3-pydicom)`;
  if (process.env['CI'] === 'true') throw new Error(`${reason}; required under CI`);
  console.warn(`SKIPPED: pydicom checks: ${reason}`);
  return false;
}

/** Runs a Python script given as text with arguments; returns its stdout parsed as JSON. */
export function runPythonJson(script: string, args: readonly string[]): unknown {
  const run = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`python exited ${run.status ?? run.signal}: ${run.error?.message ?? ''}\n${run.stderr}`);
  return JSON.parse(run.stdout) as unknown;
}
