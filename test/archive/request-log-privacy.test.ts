import { createLogger } from '@mipseg/shared/log';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly requestId?: string;
  readonly path?: string;
  readonly query?: string[];
}

describe('request logs name the query parameters, never their values, and carry the request id', () => {
  let server: TestArchiveServer;
  let root: string;
  const raw: string[] = [];
  const lines = () => raw.map((l) => JSON.parse(l) as LogLine);
  beforeAll(async () => {
    server = await startTestArchive({}, createLogger('info', { write: (line: string) => raw.push(line) }));
    root = server.baseUrl.replace('/dicomweb', '');
  });
  afterAll(() => server.stop());

  /** The lines logged for the request whose answer carried `id`, once its 'request' line is there. */
  async function linesOf(id: string | null): Promise<LogLine[]> {
    expect(id).toBeTruthy();
    for (let k = 0; k < 100 && !lines().some((l) => l.requestId === id && l.msg === 'request'); k++) await new Promise((r) => setTimeout(r, 20));
    return lines().filter((l) => l.requestId === id);
  }

  test('a QIDO search by patient name and birth date logs its path and parameter names only', async () => {
    const res = await fetch(`${server.baseUrl}/studies?PatientName=STS*&PatientBirthDate=19500101`);
    expect(res.status).toBe(200);
    const logged = await linesOf(res.headers.get('x-request-id'));
    expect(logged).toEqual([expect.objectContaining({ msg: 'request', path: '/dicomweb/studies', query: ['PatientName', 'PatientBirthDate'] })]);
    expect(raw.join('\n')).not.toMatch(/STS|19500101/);
  });

  test('a query "name" that is really a value (no "=", or an encoded one) is logged as "?", not as sent', async () => {
    const res = await fetch(`${server.baseUrl}/studies?SMITH&DOE%5EJOHN&PatientName%3DROE%5EJANE&limit=5`);
    const logged = await linesOf(res.headers.get('x-request-id'));
    expect(logged).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'request', query: ['?', 'limit'] })]));
    expect(raw.join('\n')).not.toMatch(/SMITH|DOE|ROE/);
  });

  test('a refused request logs neither its query values nor the value its error message repeats', async () => {
    const notFound = await fetch(`${root}/api/worklist?patient=Smith%5EJohn`);
    expect(notFound.status).toBe(404);
    const badDate = await fetch(`${server.baseUrl}/studies?PatientBirthDate=1950x101`);
    expect(badDate.status).toBe(400);
    expect(await linesOf(notFound.headers.get('x-request-id'))).toHaveLength(2); // the error's line and the request's
    expect(await linesOf(badDate.headers.get('x-request-id'))).toHaveLength(2);
    expect(raw.join('\n')).not.toMatch(/Smith|1950x101/);
  });

  test('keeps a client\'s X-Request-Id that is a plain token, and replaces one that is not', async () => {
    const kept = await fetch(`${server.baseUrl}/studies`, { headers: { 'X-Request-Id': 'pacs-7f3a:0042' } });
    expect(kept.headers.get('x-request-id')).toBe('pacs-7f3a:0042');
    expect(await linesOf('pacs-7f3a:0042')).toHaveLength(1);
    for (const bad of ['two words', 'x'.repeat(129), 'a"b']) {
      const replaced = await fetch(`${server.baseUrl}/studies`, { headers: { 'X-Request-Id': bad } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  test('every answer has its own id when the client sends none', async () => {
    const ids = await Promise.all([1, 2, 3].map(async () => (await fetch(`${root}/healthz`)).headers.get('x-request-id')));
    expect(new Set(ids).size).toBe(3);
  });
});

describe('request logs behind a trusted reverse proxy', () => {
  test('name the client the proxy forwards for as remote, and the proxy as via; without TRUST_PROXY the header is ignored', async () => {
    for (const [trustProxy, expected] of [['loopback', { remote: '203.0.113.7', via: '127.0.0.1' }], ['false', { remote: '127.0.0.1' }]] as const) {
      const raw: string[] = [];
      const server = await startTestArchive({ TRUST_PROXY: trustProxy }, createLogger('info', { write: (line: string) => raw.push(line) }));
      try {
        const res = await fetch(`${server.baseUrl}/studies`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
        expect(res.status).toBe(200);
        const id = res.headers.get('x-request-id');
        for (let k = 0; k < 100 && !raw.some((l) => l.includes(`"requestId":"${String(id)}"`)); k++) await new Promise((r) => setTimeout(r, 20));
        const line = raw.map((l) => JSON.parse(l) as { requestId?: string; remote?: string; via?: string }).find((l) => l.requestId === id);
        expect([trustProxy, line?.remote?.replace(/^::ffff:/, ''), line?.via?.replace(/^::ffff:/, '')])
          .toEqual([trustProxy, expected.remote, 'via' in expected ? expected.via : undefined]);
      } finally {
        await server.stop();
      }
    }
  });
});
