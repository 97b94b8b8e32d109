import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The shipped model folder and its training code. */
export const MODEL_DIR = resolve(__dirname, '..', '..', 'models', 'mip-attention-unet');
export const TRAINING_DIR = join(MODEL_DIR, 'training');
/** The running training's best checkpoint: gitignored, so only on a developer's machine. */
export const LOCAL_CHECKPOINT = join(TRAINING_DIR, 'runs', 'cpu', 'best.pt');

/** Debian's python3-torch lives in /usr/bin/python3; TORCH_PYTHON points elsewhere (as in release.sh). */
export const TORCH_PYTHON = process.env['TORCH_PYTHON'] ?? '/usr/bin/python3';

function skipOrFail(reason: string): void {
  if (process.env['CI'] === 'true') throw new Error(`${reason} (required under CI)`);
  console.warn(`SKIPPED: ${reason}`);
}

/** Whether TORCH_PYTHON can import torch; skips visibly where not, fails under CI=true. */
export function torchAvailable(): boolean {
  const probe = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.status === 0) return true;
  skipOrFail(`${TORCH_PYTHON} cannot import torch: ${probe.error?.message ?? probe.stderr.trim().split('\n').pop()}`);
  return false;
}

/**
 * The PyTorch weights to compare against: the committed model.pt (what CI has), or else the local
 * checkpoint. undefined (skipped visibly, failing under CI) when neither exists.
 */
export function referenceWeights(): string | undefined {
  const committed = join(MODEL_DIR, 'model.pt');
  if (existsSync(committed)) return committed;
  if (existsSync(LOCAL_CHECKPOINT)) return LOCAL_CHECKPOINT;
  skipOrFail(`no PyTorch weights: neither ${committed} nor ${LOCAL_CHECKPOINT}`);
  return undefined;
}

/**
 * Runs TORCH_PYTHON in the training folder (its modules importable) with one torch thread (the CPU is shared
 * with training runs); `what` names the run in the error when it fails.
 */
export function runTrainingPython(args: readonly string[], timeoutMs: number, what: string): SpawnSyncReturns<string> {
  const run = spawnSync(TORCH_PYTHON, args, {
    cwd: TRAINING_DIR,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (run.status !== 0) {
    throw new Error(`${what} exited ${run.status ?? run.signal}: ${run.error?.message ?? ''}\n${run.stderr}`);
  }
  return run;
}

/** Runs a training-folder Python script (see runTrainingPython). */
export function runTrainingScript(script: string, args: readonly string[], timeoutMs: number): SpawnSyncReturns<string> {
  return runTrainingPython([join(TRAINING_DIR, script), ...args], timeoutMs, script);
}
