import { launchChromium, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { startWorklistServer, type WorklistServer } from './worklist-server';

const TOKEN = 'worklist-token-0123456789abcdef';

describe('the worklist behind AUTH_TOKENS', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer({ AUTH_TOKENS: TOKEN });
    indexSyntheticStudy(server.archive.index, syntheticStudy(0));
  });
  afterAll(() => server.stop());

  test('serves the page shell without a token but refuses its API', async () => {
    expect((await fetch(`${server.root}/`)).status).toBe(200);
    const api = await fetch(`${server.root}/api/worklist`);
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ code: 'MIPSEG_UNAUTHORIZED' });
  });

  test('turns a valid token into an HttpOnly, SameSite=Strict cookie that the API and DICOMweb accept', async () => {
    const wrong = await fetch(`${server.root}/api/session`, { method: 'POST', headers: { Authorization: 'Bearer not-the-token-0123456789' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const login = await fetch(`${server.root}/api/session`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^mipseg_token=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
    const jar = { Cookie: cookie.split(';')[0] ?? '' };
    expect((await fetch(`${server.root}/api/worklist`, { headers: jar })).status).toBe(200);
    expect((await fetch(`${server.root}/dicomweb/studies`, { headers: jar })).status).toBe(200);
    const logout = await fetch(`${server.root}/api/session`, { method: 'DELETE', headers: jar });
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(/^mipseg_token=;.*Expires=Thu, 01 Jan 1970/);
  });

  test('an event stream opened with a session ends once that session is signed out, at its next write', async () => {
    const login = await fetch(`${server.root}/api/session`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    const jar = { Cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
    const stream = await fetch(`${server.root}/api/worklist/events`, { headers: jar });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // open: the poller runs
    await new Promise((r) => setTimeout(r, 400)); // past the first poll, which only sets the baseline
    expect((await fetch(`${server.root}/api/session`, { method: 'DELETE', headers: jar })).status).toBe(204);
    // A change that would be sent: to a signed-out browser, it is not; the stream ends instead.
    await server.queue.recordNotApplicable('after-sign-out', syntheticStudy(0).studyInstanceUid, 'no PET series');
    let text = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
    expect(text).not.toContain(syntheticStudy(0).studyInstanceUid);
  }, 10_000);

  describe('in Chromium', () => {
    let browser: TestBrowser;
    beforeAll(async () => {
      browser = await launchChromium({ width: 1280, height: 720 });
    }, 30_000);
    afterAll(() => browser?.close());

    test('shows a login form, refuses a wrong token and lists the studies after a right one', async () => {
      const { page } = browser;
      await page.goto(`${server.root}/`);
      await page.fill('#login-token', 'wrong-token-0123456789abcdef');
      await page.click('button[type="submit"]');
      await page.waitForSelector('.error-box');
      await page.fill('#login-token', TOKEN);
      await page.click('button[type="submit"]');
      await page.waitForSelector('tr.study-row');
      expect(await page.locator('tr.study-row').count()).toBe(1);
      const cookies = await browser.context.cookies();
      expect(cookies.find((c) => c.name === 'mipseg_token')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      expect(await page.evaluate(() => document.cookie)).not.toContain('mipseg_token');
      // The page's own POSTs carry the cookie and its Origin: they pass the cross-origin check (415 is the route's answer).
      const status = await page.evaluate(async () => (await fetch('/api/segment-mip', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x' })).status);
      expect(status).toBe(415);
    }, 30_000);
  });
});
