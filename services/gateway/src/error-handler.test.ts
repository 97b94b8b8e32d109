import type { AddressInfo } from 'node:net';
import express from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import { createLogger } from '@mipseg/shared/log';
import { errorHandler } from './error-handler';

/** The answer a route that throws `error` gives through the gateway's error handler. */
async function answerTo(error: MipsegError): Promise<Response> {
  const app = express();
  app.get('/', () => { throw error; });
  app.use(errorHandler(createLogger('silent')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    server.close();
  }
}

describe('Retry-After of a MIPSEG_BUSY answer', () => {
  test('is the error\'s own where it says when to try again (a timed-out metadata read: the time left of its hour)', async () => {
    const answer = await answerTo(new MipsegError('MIPSEG_BUSY', 'read again at …', { retryAfterS: 3412 }));
    expect([answer.status, answer.headers.get('retry-after')]).toEqual([503, '3412']);
    expect(((await answer.json()) as { code: string }).code).toBe('MIPSEG_BUSY');
  });

  test('is the gateway\'s default of 5 s otherwise', async () => {
    const answer = await answerTo(new MipsegError('MIPSEG_BUSY', 'queue full'));
    expect([answer.status, answer.headers.get('retry-after')]).toEqual([503, '5']);
  });
});
