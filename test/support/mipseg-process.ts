import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve(__dirname, '..', '..', 'services', 'cli', 'dist', 'main.js');

/** The node flags `npm start` and the images give the service (README, "Why one GC thread"). */
export const SERVICE_NODE_FLAGS = ['--single-threaded-gc'];

export interface MipsegProcess {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly dimsePort: number | undefined;
  readonly output: () => string;
}

/**
 * Runs `mipseg serve` (the built CLI, as `npm start` does) as a child process on free ports and resolves
 * once it logs that it is ready. The caller kills it.
 */
export function startMipsegProcess(env: Record<string, string>): Promise<MipsegProcess> {
  return startCli('serve', '"mipseg ready"', env);
}

/** Runs `mipseg worker` (queue mode) and resolves once its pipeline has started. */
export function startMipsegWorker(env: Record<string, string>): Promise<MipsegProcess> {
  return startCli('worker', '"pipeline started"', env);
}

function startCli(command: string, readyMarker: string, env: Record<string, string>): Promise<MipsegProcess> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, CLI, command], {
    env: { ...process.env, PORT: '0', DIMSE_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`mipseg ${command} did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes(readyMarker));
      if (!line) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { httpPort?: number; dimsePort?: number };
      resolvePromise({ child, httpPort: ready.httpPort ?? 0, dimsePort: ready.dimsePort, output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mipseg ${command} exited with ${code}:\n${output}`));
    });
  });
}

export function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill(signal);
  });
}
