import { SESSION_LIFETIME_MS, SessionStore } from '../../services/gateway/src/session-store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { fetchStow } from '../support/stow';
import { startWorklistServer, type WorklistServer } from './worklist-server';

const TOKEN = 'session-token-0123456789abcdef';

async function signIn(server: WorklistServer): Promise<{ setCookie: string; id: string; jar: { Cookie: string } }> {
  const res = await fetch(`${server.root}/api/session`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const pair = setCookie.split(';')[0] ?? '';
  return { setCookie, id: decodeURIComponent(pair.slice(pair.indexOf('=') + 1)), jar: { Cookie: pair } };
}

const worklistStatus = async (server: WorklistServer, headers: Record<string, string>) =>
  (await fetch(`${server.root}/api/worklist`, { headers })).status;

describe('the sign-in session cookie', () => {
  let server: WorklistServer;
  let clock = Date.now();
  beforeAll(async () => {
    server = await startWorklistServer({ AUTH_TOKENS: TOKEN, ALLOW_STUDY_DELETE: 'true' }, undefined, undefined, undefined,
      { sessions: new SessionStore({ now: () => clock }) });
  });
  afterAll(() => server?.stop());

  test('carries a new session id, never the token', async () => {
    const first = await signIn(server);
    const second = await signIn(server);
    expect(first.setCookie).toMatch(/^mipseg_token=/);
    expect(first.id).not.toBe(TOKEN);
    expect(first.setCookie).not.toContain(TOKEN);
    expect(first.setCookie).not.toContain(encodeURIComponent(TOKEN));
    expect(second.id).not.toBe(first.id);
    expect(await worklistStatus(server, first.jar)).toBe(200);
  });

  test('signing in again ends the session the browser held: a copy of the earlier cookie is refused', async () => {
    const earlier = await signIn(server);
    const res = await fetch(`${server.root}/api/session`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, ...earlier.jar } });
    expect(res.status).toBe(200);
    const pair = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(await worklistStatus(server, { Cookie: pair })).toBe(200);
    expect(await worklistStatus(server, earlier.jar)).toBe(401);
  });

  test('is set only by signing in (POST): a GET or HEAD of /api/session with the token opens no session', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${server.root}/api/session`, { method, headers: { Authorization: `Bearer ${TOKEN}` } });
      expect({ method, status: res.status, setCookie: res.headers.get('set-cookie') }).toEqual({ method, status: 200, setCookie: null });
    }
  });

  test('is found among other cookies of the same name, such as one a page on another port of this host planted', async () => {
    const { jar } = await signIn(server);
    // Cookies are not kept apart by port, and the browser sends the one with the longer path first.
    expect(await worklistStatus(server, { Cookie: `mipseg_token=planted-junk; ${jar.Cookie}` })).toBe(200);
    expect(await worklistStatus(server, { Cookie: 'mipseg_token=planted-junk; mipseg_token=more-junk' })).toBe(401);
  });

  test('is not accepted as a bearer token: 401 on DICOMweb and the API', async () => {
    const { id } = await signIn(server);
    const bearer = { Authorization: `Bearer ${id}` };
    expect(await worklistStatus(server, bearer)).toBe(401);
    const stow = await fetch(`${server.root}/dicomweb/studies`, { headers: bearer });
    expect(stow.status).toBe(401);
    expect(await stow.json()).toMatchObject({ code: 'MIPSEG_UNAUTHORIZED' });
  });

  test('authenticates only reads of DICOMweb (the viewer\'s): STOW-RS and DELETE need a bearer token, the API\'s POSTs do not', async () => {
    const { jar } = await signIn(server);
    // From the page's own origin, so that only the credential decides, not the cross-origin check.
    const fromPage = { ...jar, Origin: server.root };
    const bearer = { Authorization: `Bearer ${TOKEN}` };
    const study = '2.25.700'; // syntheticPetInstance's
    const instance = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.7501', imagePositionPatient: [0, 0, 0] }));
    expect((await fetch(`${server.root}/dicomweb/studies`, { headers: jar })).status).toBe(200);
    expect((await fetch(`${server.root}/dicomweb/studies`, { method: 'HEAD', headers: jar })).status).toBe(200);

    const stowByCookie = await fetchStow(`${server.root}/dicomweb/studies`, [instance], { headers: fromPage });
    expect([stowByCookie.status, ((await stowByCookie.json()) as { code: string }).code]).toEqual([401, 'MIPSEG_UNAUTHORIZED']);
    expect((await fetchStow(`${server.root}/dicomweb/studies`, [instance], { headers: bearer })).status).toBe(200);

    const deleteByCookie = await fetch(`${server.root}/dicomweb/studies/${study}`, { method: 'DELETE', headers: fromPage });
    expect([deleteByCookie.status, ((await deleteByCookie.json()) as { code: string }).code]).toEqual([401, 'MIPSEG_UNAUTHORIZED']);
    expect((await fetch(`${server.root}/dicomweb/studies/${study}`, { headers: bearer })).status).toBe(200);
    expect((await fetch(`${server.root}/dicomweb/studies/${study}`, { method: 'DELETE', headers: bearer })).status).toBe(200);

    // The worklist's "Run again" still goes by the cookie: past authentication, to the missing study's 404.
    expect((await fetch(`${server.root}/api/studies/${study}/analyze`, { method: 'POST', headers: fromPage })).status).toBe(404);
  });

  test('is refused once signed out, even when the browser sends it again: 401', async () => {
    const { jar } = await signIn(server);
    const logout = await fetch(`${server.root}/api/session`, { method: 'DELETE', headers: jar });
    expect(logout.status).toBe(204);
    expect(await worklistStatus(server, jar)).toBe(401);
    expect((await fetch(`${server.root}/dicomweb/studies`, { headers: jar })).status).toBe(401);
  });

  test('expires on the server after its lifetime (12 h, the cookie\'s Max-Age), whatever the browser keeps', async () => {
    const { setCookie, jar } = await signIn(server);
    expect(setCookie).toMatch(new RegExp(`Max-Age=${SESSION_LIFETIME_MS / 1000}\\b`));
    const start = clock;
    try {
      clock = start + SESSION_LIFETIME_MS - 1;
      expect(await worklistStatus(server, jar)).toBe(200);
      clock = start + SESSION_LIFETIME_MS;
      expect(await worklistStatus(server, jar)).toBe(401);
    } finally {
      clock = start;
    }
  });

  test('the raw token in the cookie, as earlier releases set it, is no session: 401', async () => {
    expect(await worklistStatus(server, { Cookie: `mipseg_token=${TOKEN}` })).toBe(401);
  });
});

describe('sessions and the gateway process', () => {
  test('a session ends with the process: a restarted gateway refuses the old cookie', async () => {
    const before = await startWorklistServer({ AUTH_TOKENS: TOKEN });
    const { jar } = await signIn(before);
    await before.stop();
    const after = await startWorklistServer({ AUTH_TOKENS: TOKEN });
    try {
      expect(await worklistStatus(after, jar)).toBe(401);
    } finally {
      await after.stop();
    }
  });

  test('a session opened with a token that is no longer configured is refused', async () => {
    const sessions = new SessionStore();
    const both = await startWorklistServer({ AUTH_TOKENS: `${TOKEN},other-token-0123456789abcdef` }, undefined, undefined, undefined, { sessions });
    const { jar } = await signIn(both);
    expect(await worklistStatus(both, jar)).toBe(200);
    await both.stop();
    const otherOnly = await startWorklistServer({ AUTH_TOKENS: 'other-token-0123456789abcdef' }, undefined, undefined, undefined, { sessions });
    try {
      expect(await worklistStatus(otherOnly, jar)).toBe(401);
    } finally {
      await otherOnly.stop();
    }
  });
});
