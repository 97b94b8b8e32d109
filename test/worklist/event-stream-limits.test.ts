import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { MAX_EVENT_STREAMS, MAX_EVENT_STREAMS_PER_CALLER } from '../../services/gateway/src/worklist/study-events';
import { until } from '../support/until';
import { startWorklistServer, type WorklistServer } from './worklist-server';

/** Who asks for a stream: the credential sent, and the local address its connection comes from. */
interface Caller {
  readonly headers?: Record<string, string>;
  readonly localAddress?: string;
}

/** Asks for the worklist's event stream on a connection of its own; settles with the answer once its headers came. */
function askForStream(server: WorklistServer, caller: Caller = {}, method = 'GET'): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.gateway.port, path: '/api/worklist/events', method, agent: false,
      ...caller });
    req.on('response', (res) => resolve({ req, res }));
    req.on('error', reject);
    req.end();
  });
}

/** Opens `count` streams for `caller`, kept in `open` for the clean-up; every one must be taken on. */
async function openStreams(server: WorklistServer, open: ClientRequest[], count: number, caller: Caller = {}): Promise<void> {
  const streams = await Promise.all(Array.from({ length: count }, () => askForStream(server, caller)));
  open.push(...streams.map((s) => s.req));
  expect(streams.map((s) => s.res.statusCode)).toEqual(streams.map(() => 200));
}

/** GET's and HEAD's answers to `caller` now: status, Retry-After, and GET's error code (the stream is closed after). */
async function answersTo(server: WorklistServer, caller: Caller): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const method of ['GET', 'HEAD']) {
    const { req, res } = await askForStream(server, caller, method);
    let code: unknown;
    if (method === 'GET' && res.statusCode !== 200) {
      const body: Buffer[] = [];
      for await (const chunk of res) body.push(chunk as Buffer);
      code = (JSON.parse(Buffer.concat(body).toString()) as { code: unknown }).code;
    }
    req.destroy();
    answers.push([method, res.statusCode, res.headers['retry-after'], code]);
  }
  return answers;
}

const REFUSED_BUSY = [['GET', 503, '5', 'MIPSEG_BUSY'], ['HEAD', 503, '5', undefined]];
const TAKEN_ON = [['GET', 200, undefined, undefined], ['HEAD', 200, undefined, undefined]];

/** A stream taken on for `caller` once one of theirs ended (the gateway learns of the close on its own time). */
async function streamTakenOnAgain(server: WorklistServer, open: ClientRequest[], caller: Caller): Promise<IncomingMessage> {
  const again = await until(async () => {
    const next = await askForStream(server, caller);
    open.push(next.req);
    if (next.res.statusCode === 200) return next;
    next.req.destroy();
    return undefined;
  }, 'a stream taken on once one ended', { timeoutMs: 5000 });
  return again.res;
}

const tokens = Array.from({ length: MAX_EVENT_STREAMS / MAX_EVENT_STREAMS_PER_CALLER + 1 }, (_, i) => `events-token-${i}-0123456789abcdef`);
const bearer = (token: string | undefined): Caller => ({ headers: { Authorization: `Bearer ${token ?? ''}` } });

describe('the worklist event stream\'s limit on streams open at once', () => {
  let server: WorklistServer;
  const open: ClientRequest[] = [];
  beforeAll(async () => {
    server = await startWorklistServer({ AUTH_TOKENS: tokens.join(',') });
  });
  afterAll(async () => {
    for (const req of open) req.destroy();
    await server?.stop();
  });

  test(`refuses stream ${MAX_EVENT_STREAMS + 1} with 503 MIPSEG_BUSY and Retry-After, and takes one on again once a stream ends`, async () => {
    const callers = tokens.slice(0, -1).map(bearer);
    for (const caller of callers) await openStreams(server, open, MAX_EVENT_STREAMS_PER_CALLER, caller);
    // A caller with no stream open yet is refused too: the limit is on all streams together.
    const fresh = bearer(tokens.at(-1));
    // HEAD answers as GET would: a client that checks before it connects is told the same.
    expect(await answersTo(server, fresh)).toEqual(REFUSED_BUSY);

    open[0]?.destroy();
    expect((await streamTakenOnAgain(server, open, fresh)).statusCode).toBe(200);
  });
});

describe('the worklist event stream\'s limit per caller, with AUTH_TOKENS', () => {
  let server: WorklistServer;
  const open: ClientRequest[] = [];
  beforeAll(async () => {
    server = await startWorklistServer({ AUTH_TOKENS: tokens.join(',') });
  });
  afterAll(async () => {
    for (const req of open) req.destroy();
    await server?.stop();
  });

  const signIn = async (token: string | undefined): Promise<Caller> => {
    const login = await fetch(`${server.root}/api/session`, { method: 'POST', ...bearer(token) });
    expect(login.status).toBe(200);
    return { headers: { Cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '' } };
  };

  test(`refuses a token's stream ${MAX_EVENT_STREAMS_PER_CALLER + 1} with 503 MIPSEG_BUSY, while another token, or a sign-in with the same token, is taken on`, async () => {
    const first = bearer(tokens[0]);
    await openStreams(server, open, MAX_EVENT_STREAMS_PER_CALLER, first);
    expect(await answersTo(server, first)).toEqual(REFUSED_BUSY);
    expect(await answersTo(server, bearer(tokens[1]))).toEqual(TAKEN_ON);
    // A sign-in is a caller of its own, though opened with that token: each workstation signs in on its own.
    expect(await answersTo(server, await signIn(tokens[0]))).toEqual(TAKEN_ON);

    open[0]?.destroy();
    expect((await streamTakenOnAgain(server, open, first)).statusCode).toBe(200);
  });

  test(`refuses a sign-in's stream ${MAX_EVENT_STREAMS_PER_CALLER + 1} with 503 MIPSEG_BUSY, while another sign-in is taken on`, async () => {
    const session = await signIn(tokens[2]);
    await openStreams(server, open, MAX_EVENT_STREAMS_PER_CALLER, session);
    expect(await answersTo(server, session)).toEqual(REFUSED_BUSY);
    expect(await answersTo(server, await signIn(tokens[2]))).toEqual(TAKEN_ON);
  });
});

describe('the worklist event stream\'s limit per caller, without authentication', () => {
  let server: WorklistServer;
  const open: ClientRequest[] = [];
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(async () => {
    for (const req of open) req.destroy();
    await server?.stop();
  });

  test(`refuses an address's stream ${MAX_EVENT_STREAMS_PER_CALLER + 1} with 503 MIPSEG_BUSY, while another address is taken on`, async () => {
    const here = { localAddress: '127.0.0.1' };
    await openStreams(server, open, MAX_EVENT_STREAMS_PER_CALLER, here);
    expect(await answersTo(server, here)).toEqual(REFUSED_BUSY);
    // Linux routes all of 127/8 to the loopback: a second workstation, as far as the gateway can tell.
    expect(await answersTo(server, { localAddress: '127.0.0.2' })).toEqual(TAKEN_ON);
  });
});

describe('the worklist event stream while the gateway shuts down', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('refuses GET and HEAD alike with 503 and Retry-After once the streams were ended for shutdown', async () => {
    server.worklist.endEventStreams();
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${server.root}/api/worklist/events`, { method });
      expect([method, res.status, res.headers.get('retry-after')]).toEqual([method, 503, '5']);
    }
  });
});
