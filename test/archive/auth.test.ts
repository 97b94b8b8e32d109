import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

const TOKEN = 'test-token-0123456789abcdef';

describe('bearer-token authentication', () => {
  let server: TestArchiveServer;
  let root: string;
  beforeAll(async () => {
    server = await startTestArchive({ AUTH_TOKENS: TOKEN });
    root = server.baseUrl.replace('/dicomweb', '');
  });
  afterAll(() => server.stop());

  test('refuses DICOMweb without a token, with 401 and a WWW-Authenticate challenge', async () => {
    const res = await fetch(`${server.baseUrl}/studies`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_UNAUTHORIZED' });
  });

  test('refuses a wrong token of the same length', async () => {
    const wrong = TOKEN.replace(/.$/, 'x');
    const res = await fetch(`${server.baseUrl}/studies`, { headers: { Authorization: `Bearer ${wrong}` } });
    expect(res.status).toBe(401);
  });

  test('accepts the configured token', async () => {
    const res = await fetch(`${server.baseUrl}/studies`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  test('refuses a session cookie that is not valid %-encoding with 401, as any wrong credential', async () => {
    const res = await fetch(`${server.baseUrl}/studies`, { headers: { Cookie: 'mipseg_token=%' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_UNAUTHORIZED' });
  });

  test('leaves health endpoints open for orchestrators', async () => {
    expect((await fetch(`${root}/healthz`)).status).toBe(200);
    expect((await fetch(`${root}/readyz`)).status).toBe(200);
  });
});
