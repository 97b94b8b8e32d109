import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { createLogger } from '@mipseg/shared/log';
import { BullMqJobQueue } from '@mipseg/shared/queue';
import { killAndWait } from '../support/mipseg-process';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const QUEUE_MODULE = resolve(__dirname, '..', '..', 'shared', 'src', 'queue', 'index.ts');
const LOG_MODULE = resolve(__dirname, '..', '..', 'shared', 'src', 'log', 'index.ts');
const STUDY = '2.25.7301';
/** Short, so that a dead process's check is taken back within seconds (stalled checks run every half of it). */
const LOCK_MS = 1000;

/**
 * A process that takes study checks from the queue, as a gateway does, and hangs in each one until it is killed:
 * the check is running when the process dies. It says "checking <study>" when it has one.
 */
const GATEWAY_SCRIPT = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
const { BullMqJobQueue } = require(${JSON.stringify(QUEUE_MODULE)});
const { createLogger } = require(${JSON.stringify(LOG_MODULE)});
const retry = { attempts: 1, baseDelayMs: 100 };
const queue = new BullMqJobQueue({ redisUrl: process.env.REDIS_URL, prefix: process.env.QUEUE_PREFIX, analysisRetry: retry,
  exportRetry: retry, exportDestinations: [], lockDurationMs: ${LOCK_MS} }, createLogger('silent'));
queue.startProcessing({
  checkStudy: (uid) => { process.stdout.write('checking ' + uid + '\\n'); return new Promise(() => undefined); },
  analyze: () => Promise.reject(new Error('not in this test')),
}, { concurrency: 1, studyChecks: true, analyses: false });`;

interface Gateway {
  readonly child: ChildProcess;
  /** Whether it has said that it runs the study's check. */
  readonly checking: () => boolean;
}

function startGateway(env: Record<string, string>): Gateway {
  const child = spawn(process.execPath, ['-e', GATEWAY_SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  return { child, checking: () => output.includes(`checking ${STUDY}`) };
}

describe('a study check running while its gateway process dies', () => {
  const fixture = useRedisWithClient();
  const running: Gateway[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((g) => killAndWait(g.child, 'SIGKILL')));
  });

  test('is taken back and run again after each of three crashes, never failed as "stalled more than allowable limit"', async () => {
    const prefix = `t-${randomUUID()}`;
    const env = { REDIS_URL: fixture.redis.url, QUEUE_PREFIX: prefix };
    const queue = new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix, analysisRetry: { attempts: 1, baseDelayMs: 100 },
      exportRetry: { attempts: 1, baseDelayMs: 100 }, exportDestinations: [], lockDurationMs: LOCK_MS }, createLogger('silent'));
    const checks = new Queue('study-checks', { connection: fixture.connection, prefix });
    try {
      await queue.scheduleStudyCheck(STUDY, 0);
      // BullMQ's default maxStalledCount (1) fails the check when the second gateway's death is noticed, by the third:
      // that one is then handed the check only to fail it, and never runs it.
      for (let gateway = 1; gateway <= 3; gateway++) {
        const started = startGateway(env);
        running.push(started);
        const outcome = await until(async () => {
          if (started.checking()) return 'running';
          return ((await checks.getJobCounts('failed')).failed ?? 0) > 0 ? 'failed' : undefined;
        }, `gateway ${gateway} to run the check`, { timeoutMs: 30_000 });
        expect({ gateway, outcome }).toEqual({ gateway, outcome: 'running' });
        await killAndWait(started.child, 'SIGKILL');
      }
    } finally {
      await checks.close();
      await queue.close();
    }
  }, 120_000);
});
