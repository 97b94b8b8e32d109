import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';

export interface MipsegProcess {
  readonly baseUrl: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const REPO_ROOT = resolve(__dirname, '..', '..');

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (!(await exited(child, 15_000))) {
    child.kill('SIGKILL');
    await exited(child, 5_000);
  }
}

/** Starts `mipseg-process.ts` under Node with tsx; `profileDir` adds `--cpu-prof` (written on stop). */
export async function startMipsegProcess(profileDir?: string): Promise<MipsegProcess> {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(__dirname, 'mipseg-process.ts')], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((ready, fail) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.once('line', ready);
      child.once('error', fail);
      child.once('exit', (code) => fail(new Error(`mipseg process exited during start-up (code ${code})`)));
    });
    const { baseUrl } = JSON.parse(line) as { baseUrl: string };
    return { baseUrl, pid: child.pid ?? -1, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}
