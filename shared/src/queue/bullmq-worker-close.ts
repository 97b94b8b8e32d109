import type { Worker } from 'bullmq';
import type IORedis from 'ioredis';

/**
 * The analyses and exports this process is running: what a shutdown waits for. Counted around the handlers only: the
 * queue's own reads and writes around them wait for Redis, and with Redis away they cannot end before it is back.
 */
export class JobsInHand {
  private readonly running = new Set<Promise<unknown>>();

  /** Runs one job's handler, counted as in hand until it settles. */
  run<T>(handler: () => Promise<T>): Promise<T> {
    const work = handler();
    const counted = work.then(() => undefined, () => undefined);
    this.running.add(counted);
    void counted.then(() => this.running.delete(counted));
    return work;
  }

  /** Resolves once no handler runs (at once where none does). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

/**
 * Closes a process's workers: each stops taking jobs at once, the jobs in hand are let finish, then the workers close.
 * BullMQ's own wait (close without force) cannot end while Redis is away: it waits for its blocking connection's end,
 * which a reconnecting connection never reports, so a worker stopped during an outage waited out the whole
 * WORKER_SHUTDOWN_MS with nothing in hand. With Redis away once the jobs in hand are done, the workers are closed by
 * force: what those jobs could not record waits with their lock in Redis, and they are taken again as stalled.
 * Study checks are never waited for (see the caller).
 */
export async function closeWorkers(workers: readonly Worker[], inHand: JobsInHand, connection: IORedis, forced: (w: Worker) => boolean): Promise<void> {
  // Paused without waiting: touches no Redis, and the jobs in hand keep their locks renewed until they end.
  await Promise.all(workers.map((w) => w.pause(true)));
  await inHand.settled();
  const redisAway = connection.status !== 'ready';
  await Promise.all(workers.map((w) => w.close(redisAway || forced(w))));
}

/**
 * Quits a connection that Redis answers (the commands sent before it are answered first); one that Redis does not
 * answer is dropped, with the commands it holds for Redis: QUIT would wait behind them until Redis is back.
 */
export async function closeConnection(connection: IORedis): Promise<void> {
  if (connection.status === 'ready') await connection.quit();
  else connection.disconnect();
}

/**
 * Waits for `work` while Redis answers: where it is away (now or later) what still waits on it is left, as it cannot
 * end before Redis is back.
 */
export async function whileRedisAnswers(connection: IORedis, work: Promise<unknown>): Promise<void> {
  let onClose: (() => void) | undefined;
  const away = connection.status !== 'ready' ? Promise.resolve() : new Promise<void>((resolve) => {
    onClose = resolve;
    connection.once('close', resolve);
  });
  try {
    await Promise.race([work, away]);
  } finally {
    if (onClose) connection.off('close', onClose);
  }
}
