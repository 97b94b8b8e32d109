/**
 * A preload for the pipeline benchmark's `--profile` (NODE_OPTIONS="--import <this file>"): node refuses
 * --cpu-prof in NODE_OPTIONS, and test/support/mipseg-process.ts starts the CLI with fixed arguments.
 * Profiles mipseg's main thread (where decode, SUV, MIP and DICOM writing run) from start-up to exit and
 * writes $BENCH_CPU_PROFILE_DIR/CPU.<pid>.cpuprofile for test/bench/cpu-profile-summary.ts. Plain JavaScript:
 * under tsx's loader a same-thread inspector session deadlocks. Starting the profiler on import is its purpose.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  // A same-thread inspector session answers synchronously, so the profile is written before the process ends.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return void process.stderr.write(`cpu profile not written: ${err.message}\n`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
