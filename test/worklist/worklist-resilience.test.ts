import { randomUUID } from 'node:crypto';
import { PNG } from 'pngjs';
import type { Page, Route } from 'playwright-core';
import { launchChromium, readsOf, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

const TOKEN = 'resilience-token-0123456789abcdef';
/** Each test changes the AI state of its own studies only, so that none depends on another having run. */
const STUDIES = 10;
const uid = (i: number): string => syntheticStudy(i).studyInstanceUid;
const row = (i: number): string => `tr[data-study-uid="${uid(i)}"]`;

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

describe('the worklist page when the server or the network misbehaves', () => {
  let server: WorklistServer;
  let browser: TestBrowser;
  let page: Page;

  /** The study's newest job becomes "not applicable": the event stream reports it. */
  const changeStudy = (i: number, reason = 'no PET series'): Promise<void> => server.queue.recordNotApplicable(`na-${randomUUID()}`, uid(i), reason);
  /** Ends every open connection, the event stream among them, as a gateway restart behind a proxy does. */
  const dropConnections = (): void => server.gateway.server.closeAllConnections();
  const live = (): Promise<unknown> => page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer({ AUTH_TOKENS: TOKEN });
    for (let i = 0; i < STUDIES; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  beforeEach(async () => {
    const login = await browser.context.request.post(`${server.root}/api/session`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(login.status()).toBe(200);
  });

  afterEach(() => page.unrouteAll({ behavior: 'ignoreErrors' }));

  test('live updates resume after a proxy refuses the event stream\'s reconnect with 502', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(0));
    await live();
    const refused = signal();
    let refusals = 0;
    await page.route((url) => url.pathname === '/api/worklist/events', (route: Route) => {
      if (refusals++ > 0) return route.continue();
      refused.resolve();
      return route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>502 Bad Gateway</h1>' });
    });
    dropConnections();
    await refused.promise;
    await live(); // EventSource alone stays closed after a 502; the page opened a new one
    await changeStudy(0);
    await page.waitForSelector(`${row(0)} [data-state="not-applicable"]`, { timeout: 5000 });
  }, 20_000);

  test('the live indicator says in words, not by colour alone, when updates stop and when they resume', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(0));
    await live();
    const indicator = page.locator('.live-indicator');
    expect([await indicator.textContent(), await indicator.getAttribute('role')]).toEqual(['Live', 'status']);
    await page.route((url) => url.pathname === '/api/worklist/events', (route: Route) =>
      route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>502 Bad Gateway</h1>' }));
    dropConnections();
    await page.waitForFunction(() => document.querySelector('.live-indicator')?.textContent === 'Not updating');
    expect(await indicator.getAttribute('title')).toMatch(/interrupted/);
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    await live();
    expect(await indicator.textContent()).toBe('Live');
  }, 20_000);

  test('a page past the end of the list says so and offers the first page, rather than "No studies match."', async () => {
    await page.goto(`${server.root}/?offset=450`);
    await page.waitForSelector('td.empty');
    expect(await page.locator('td.empty').textContent()).toMatch(/^No more studies: this page is past the end of the list/);
    await page.click('[data-action="first-page"]');
    await page.waitForSelector(row(0));
    expect(new URL(page.url()).search).toBe('');
  }, 20_000);

  test('"Try a MIP image": the answer for an earlier image, arriving after the newer one\'s, does not replace its result', async () => {
    const png = PNG.sync.write(new PNG({ width: 2, height: 2 })).toString('base64');
    const first = signal();
    let asked = 0;
    await page.route((url) => url.pathname === '/api/segment-mip', async (route: Route) => {
      if (asked++ === 0) {
        await first.promise;
        return route.fulfill({ status: 500, json: { code: 'MIPSEG_INTERNAL', message: 'the first image failed' } });
      }
      return route.fulfill({ status: 200, json: { width: 2, height: 2, lesionCount: 1, tumourPixels: 3, maskPng: png, overlayPng: png,
        modelName: 'mip-attention-unet', modelVersion: 'test', elapsedMs: 5 } });
    });
    await page.goto(`${server.root}/try`);
    const image = (name: string) => ({ name, mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    await page.setInputFiles('input[type="file"]', image('first.png'));
    await page.waitForFunction(() => document.querySelector('.try-output')?.textContent === 'Segmenting first.png…');
    await page.setInputFiles('input[type="file"]', image('second.png'));
    await page.waitForSelector('.try-result');
    first.resolve();
    await page.waitForTimeout(500);
    expect(await page.locator('.try-output .error-box').count()).toBe(0);
    expect(await page.locator('a[data-download="mask"]').getAttribute('download')).toBe('second-mask.png');
  }, 20_000);

  test('a change made after the list was read but before the event stream opened still reaches the page', async () => {
    // The stream's first poll takes the state it compares later polls with: a change before that poll is never an event.
    const held = signal();
    await page.route((url) => url.pathname === '/api/worklist/events', async (route: Route) => {
      await held.promise;
      return route.continue();
    });
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(6));
    await changeStudy(6);
    held.resolve();
    await live();
    await page.waitForSelector(`${row(6)} [data-state="not-applicable"]`, { timeout: 5000 });
  }, 20_000);

  test('a reconnect refused because the session expired shows the login form, and signing in brings the list back', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(0));
    await live();
    await browser.context.clearCookies(); // what the 12 h cookie lifetime does
    dropConnections();
    await page.waitForSelector('#login-token', { timeout: 8000 });
    await page.fill('#login-token', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForSelector(row(0));
    await live();
  }, 20_000);

  test('a background refresh answered with 500 keeps the study on screen, says so, and is tried again', async () => {
    await page.goto(`${server.root}/studies/${uid(1)}`);
    await page.waitForSelector('.study-head');
    await live();
    const failed = signal();
    let answers = 0;
    await page.route((url) => url.pathname === `/api/worklist/studies/${uid(1)}`, (route: Route) => {
      if (answers++ > 0) return route.continue();
      failed.resolve();
      return route.fulfill({ status: 500, json: { code: 'MIPSEG_INTERNAL', message: 'the index is busy' } });
    });
    await changeStudy(1);
    await failed.promise;
    const notice = page.locator('[data-refresh-notice]');
    await notice.getByText(/Could not refresh: the index is busy; retrying/).waitFor({ timeout: 5000 });
    expect(await page.locator('.study-head .patient-name').count()).toBe(1);
    expect(await page.locator('.study-grid').count()).toBe(1);
    // The retry, a second later, gets the new state and takes the notice away.
    await page.waitForSelector('.study-grid [data-state="not-applicable"]', { timeout: 5000 });
    expect(await notice.textContent()).toBe('');
  }, 20_000);

  test('a study view whose first read is answered with 503 says so and is tried again until the study shows', async () => {
    let answers = 0;
    await page.route((url) => url.pathname === `/api/worklist/studies/${uid(2)}`, (route: Route) => {
      if (answers++ > 0) return route.continue();
      return route.fulfill({ status: 503, json: { code: 'MIPSEG_QUEUE_UNAVAILABLE', message: 'the job queue cannot be reached: Redis restarts' } });
    });
    await page.goto(`${server.root}/studies/${uid(2)}`);
    await page.waitForSelector('[data-retry-notice]', { timeout: 5000 });
    expect(await page.locator('.error-box').first().textContent()).toMatch(/Redis restarts/);
    await page.waitForSelector('.study-head', { timeout: 5000 });
    expect(await page.locator('[data-retry-notice]').count()).toBe(0);
  }, 20_000);

  test('a page whose start is answered with 502 (the gateway restarting behind its proxy) says so and starts once it answers', async () => {
    let answers = 0;
    await page.route((url) => url.pathname === '/api/session', (route: Route) => {
      if (answers++ > 0) return route.continue();
      return route.fulfill({ status: 502, json: { code: 'HTTP_502', message: 'Bad Gateway' } });
    });
    await page.goto(`${server.root}/`);
    await page.waitForSelector('[data-retry-notice]', { timeout: 5000 });
    await page.waitForSelector(row(9), { timeout: 5000 });
  }, 20_000);

  test('a search refused with 400 takes the earlier filter\'s list, count and pager off the page', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(9));
    await page.route((url) => url.pathname === '/api/worklist' && url.searchParams.has('from'), (route: Route) =>
      route.fulfill({ status: 400, json: { code: 'MIPSEG_BAD_QUERY', message: 'bad query: from (2025-06-30) is after to (2025-06-01)' } }));
    await page.fill('input[name="from"]', '2025-06-30');
    await page.fill('input[name="to"]', '2025-06-01');
    await page.locator('form button[type="submit"]').click();
    await page.waitForSelector('.worklist .error-box');
    expect(await page.locator('tr[data-study-uid]').count()).toBe(0);
    expect(await page.locator('.pager-status').textContent()).toBe('');
  }, 20_000);

  test('a worklist refresh answered with 503 says so, is tried again, and the list comes back without the error', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(9));
    await live();
    const failed = signal();
    let answers = 0;
    await page.route((url) => url.pathname === '/api/worklist', (route: Route) => {
      if (answers++ > 0) return route.continue();
      failed.resolve();
      return route.fulfill({ status: 503, json: { code: 'MIPSEG_QUEUE_UNAVAILABLE', message: 'the job queue cannot be reached: Redis blips' } });
    });
    await changeStudy(9, 'checked again');
    await failed.promise;
    await page.waitForSelector('[data-retry-notice]', { timeout: 5000 });
    expect(await page.locator('.worklist .error-box').textContent()).toMatch(/Redis blips/);
    // The retry, a second later, reads the list again: the new state shows and the error goes.
    await page.waitForSelector(`${row(9)} [data-state="not-applicable"]`, { timeout: 5000 });
    expect(await page.locator('.worklist .error-box').count()).toBe(0);
  }, 20_000);

  test('Run again answered after the reader left the study asks nothing more for that study', async () => {
    // The view reads the study when shown and again when the event stream opens: both answered before counting.
    const bothReads = readsOf(page, `/api/worklist/studies/${uid(7)}`, 2);
    await page.goto(`${server.root}/studies/${uid(7)}`);
    await page.waitForSelector('.study-head');
    await live();
    await bothReads;
    const analyzed = signal();
    await page.route((url) => url.pathname === `/api/studies/${uid(7)}/analyze`, async (route: Route) => {
      await analyzed.promise;
      return route.fulfill({ status: 202, json: { kind: 'queued', jobId: 'job-7' } });
    });
    let studyReads = 0;
    await page.route((url) => url.pathname === `/api/worklist/studies/${uid(7)}`, (route: Route) => {
      studyReads++;
      return route.fulfill({ status: 500, json: { code: 'MIPSEG_INTERNAL', message: 'the index is busy' } });
    });
    await page.click('[data-action="analyze"]');
    await page.click('a.back');
    await page.waitForSelector('.worklist');
    analyzed.resolve();
    // Before, the answer started a load of the study gone from the screen, and its failures retried for ever.
    await page.waitForTimeout(2500);
    expect(studyReads).toBe(0);
  }, 20_000);

  test('Run again clicked twice while its request is out asks once, and says what the answer was', async () => {
    await page.goto(`${server.root}/studies/${uid(8)}`);
    await page.waitForSelector('.study-head');
    await live();
    const answer = signal();
    let asked = 0;
    await page.route((url) => url.pathname === `/api/studies/${uid(8)}/analyze`, async (route: Route) => {
      asked++;
      await answer.promise;
      return route.fulfill({ status: 202, json: { kind: 'unchanged', jobId: 'job-8', reason: 'an analysis of the same instances is already running' } });
    });
    await page.dblclick('[data-action="analyze"]');
    await page.click('[data-action="analyze"]', { force: true });
    await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('[data-action="analyze"]')?.disabled === true);
    answer.resolve();
    await page.waitForSelector('.ok-box');
    expect(await page.locator('.ok-box').textContent()).toMatch(/^Not asked again: an analysis of the same instances is already running/);
    await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('[data-action="analyze"]')?.disabled === false);
    expect(asked).toBe(1);
  }, 20_000);

  test('an error answered with a proxy\'s HTML page names its HTTP status, and a network failure says the server is unreachable', async () => {
    let answer: 'html' | 'network' = 'html';
    await page.route((url) => url.pathname === '/api/worklist', (route: Route) => (answer === 'html'
      ? route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' })
      : route.abort('failed')));
    await page.goto(`${server.root}/`);
    const error = page.locator('.worklist .error-box');
    await error.waitFor({ timeout: 5000 });
    expect(await error.textContent()).toMatch(/^HTTP 502\b/);
    answer = 'network';
    await page.waitForFunction(() => document.querySelector('.worklist .error-box')?.textContent === 'Server unreachable (network)',
      undefined, { timeout: 5000 });
  }, 20_000);

  test('a success answered with HTML (an SSO proxy\'s sign-in page) or with cut-off JSON says so, and nothing crashes', async () => {
    let answer: 'html' | 'cut' = 'html';
    const crashes: string[] = [];
    page.on('pageerror', (err) => crashes.push(err.message));
    await page.route((url) => url.pathname === '/api/worklist', (route: Route) => (answer === 'html'
      ? route.fulfill({ status: 200, contentType: 'text/html', body: '<html><body><form>Sign in</form></body></html>' })
      : route.fulfill({ status: 200, contentType: 'application/json', body: '{"studies":[{"studyInst' })));
    await page.goto(`${server.root}/`);
    const error = page.locator('.worklist .error-box');
    await error.waitFor({ timeout: 5000 });
    expect(await error.textContent()).toMatch(/^HTTP 200: the answer was not JSON \(text\/html\)/);
    answer = 'cut';
    await page.waitForFunction(() => /^HTTP 200: the answer could not be read/.test(document.querySelector('.worklist .error-box')?.textContent ?? ''),
      undefined, { timeout: 5000 });
    expect(crashes).toEqual([]);
  }, 20_000);

  test('a worklist read refused with 400 (a from after to) is shown once, not asked again', async () => {
    let asked = 0;
    await page.route((url) => url.pathname === '/api/worklist', (route: Route) => {
      asked++;
      return route.fulfill({ status: 400, json: { code: 'MIPSEG_BAD_QUERY', message: 'bad query: from=2025-06-30 is after to=2025-06-01' } });
    });
    await page.goto(`${server.root}/?from=2025-06-30&to=2025-06-01`);
    await page.waitForSelector('.worklist .error-box');
    await live();
    // The stream's opening reads the list once more (as after any reconnect), a debounce later: that read is no retry.
    for (let waited = 0; asked < 2 && waited < 5000; waited += 50) await page.waitForTimeout(50);
    expect(asked).toBe(2);
    const before = asked;
    await page.waitForTimeout(2500); // past the first retry's second
    expect(await page.locator('[data-retry-notice]').count()).toBe(0);
    expect(asked).toBe(before);
  }, 20_000);

  test('a study\'s patient name is a link to it: a plain click opens it once, Back returns to the list, a Ctrl-click opens a tab', async () => {
    await page.goto(`${server.root}/`);
    const link = page.locator(`${row(4)} a.patient-link`);
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe(`/studies/${uid(4)}`);
    await link.click();
    await page.waitForSelector('.study-head');
    await page.goBack();
    await page.waitForSelector(row(4)); // one history entry: the row did not open the study a second time
    const opened = browser.context.waitForEvent('page');
    await link.click({ modifiers: ['Control'] });
    const tab = await opened;
    await tab.waitForURL(`${server.root}/studies/${uid(4)}`);
    expect(new URL(page.url()).pathname).toBe('/');
    await tab.close();
  }, 20_000);

  test('a running analysis\'s time counts by the server\'s clock on a workstation whose clock is two minutes slow', async () => {
    const skewed = await browser.context.newPage();
    try {
      await skewed.addInitScript(() => {
        const real = Date.now.bind(Date);
        Date.now = () => real() - 120_000;
      });
      const startedAt = Date.now() - 20_000; // this process's clock is the server's
      await skewed.route((url) => url.pathname === '/api/worklist', async (route: Route) => {
        const answer = await route.fetch();
        const listing = (await answer.json()) as { studies: Array<{ studyInstanceUid: string; ai: Record<string, unknown> }> };
        for (const study of listing.studies) {
          if (study.studyInstanceUid === uid(5)) Object.assign(study.ai, { state: 'running', stage: 'inference', progress: 40, startedAt, finishedAt: null });
        }
        return route.fulfill({ response: answer, json: listing });
      });
      await skewed.goto(`${server.root}/`);
      const elapsed = skewed.locator(`${row(5)} .elapsed`);
      await elapsed.waitFor();
      await skewed.waitForTimeout(1100); // a tick of the page's clock too
      expect(await elapsed.textContent()).toMatch(/^2\d s$/);
    } finally {
      await skewed.close();
    }
  }, 20_000);

  test('"‹ Worklist" and the nav link return to the worklist with its filter', async () => {
    const patient = syntheticStudy(5).patientName.split('^')[0] ?? '';
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(0));
    await page.fill('#f-patient', patient);
    await page.press('#f-patient', 'Enter');
    await page.waitForFunction((n) => document.querySelectorAll('tr.study-row').length === n, 1);
    for (const back of ['a.back', 'a[data-nav="worklist"]']) {
      await page.click(row(5));
      await page.waitForSelector('.study-head');
      await page.click(back);
      await page.waitForSelector('.worklist');
      expect(new URL(page.url()).search).toBe(`?patient=${patient}`);
      expect(await page.inputValue('#f-patient')).toBe(patient);
      await page.waitForFunction((n) => document.querySelectorAll('tr.study-row').length === n, 1);
    }
  }, 20_000);

  test('an error of a superseded worklist request is not shown', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(0));
    const slowDone = signal();
    await page.route((url) => url.pathname === '/api/worklist' && url.searchParams.get('patient') === 'SLOW', async (route: Route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.fulfill({ status: 503, json: { code: 'MIPSEG_UNAVAILABLE', message: 'slow and failed' } });
      slowDone.resolve();
    });
    await page.fill('#f-patient', 'SLOW');
    await page.press('#f-patient', 'Enter');
    await page.fill('#f-patient', syntheticStudy(1).patientId);
    await page.press('#f-patient', 'Enter');
    await page.waitForFunction((n) => document.querySelectorAll('tr.study-row').length === n, 1);
    await slowDone.promise;
    // The page has had the old answer; give it the moment it needs to handle it.
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    expect(await page.locator('.error-box').count()).toBe(0);
  }, 20_000);

  test('an older study answer arriving after a newer one does not overwrite it', async () => {
    const newerShown = signal();
    const staleSent = signal();
    let answers = 0;
    await page.route((url) => url.pathname === `/api/worklist/studies/${uid(2)}`, async (route: Route) => {
      if (answers++ > 0) return route.continue();
      const stale = await route.fetch(); // the study before the change: no job yet
      await newerShown.promise;
      await route.fulfill({ response: stale });
      staleSent.resolve();
    });
    await page.goto(`${server.root}/studies/${uid(2)}`);
    await live();
    await changeStudy(2);
    await page.waitForSelector('[data-state="not-applicable"]', { timeout: 5000 });
    newerShown.resolve();
    await staleSent.promise;
    // The page has had the old answer; give it the moment it needs to handle it.
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    expect(await page.locator('.ai-status [data-state]').first().getAttribute('data-state')).toBe('not-applicable');
  }, 20_000);

  test('a live update that changes the focused patient link keeps focus on that very link, and every cell in place', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(4));
    await live();
    const link = await page.$(`${row(4)} a.patient-link`);
    await link?.focus();
    const cells = await page.$$(`${row(4)} td`);
    // The patient's name corrected in the PACS too: the focused link's own text changes, and the link must stay the
    // same node (a copy given focus instead would lose a screen reader's place and a text selection in it).
    await page.route((url) => url.pathname === '/api/worklist', async (route: Route) => {
      const answer = await route.fetch();
      const list = (await answer.json()) as { studies: Array<{ studyInstanceUid: string; patientName: string }> };
      for (const s of list.studies) if (s.studyInstanceUid === uid(4)) s.patientName = 'CORRECTED^NAME';
      return route.fulfill({ response: answer, json: list });
    });
    await changeStudy(4);
    await page.waitForSelector(`${row(4)} [data-state="not-applicable"]`, { timeout: 5000 });
    expect(await link?.textContent()).toBe('CORRECTED, NAME');
    expect(await link?.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await Promise.all(cells.map((cell) => cell.evaluate((el) => el.isConnected)))).toEqual(cells.map(() => true));
  }, 20_000);

  test('a live update keeps the focused row focused and leaves unchanged rows in place', async () => {
    await page.goto(`${server.root}/`);
    await page.waitForSelector(row(4));
    await live();
    await page.focus(row(3));
    const unchanged = await page.$(row(4));
    await changeStudy(3);
    await page.waitForSelector(`${row(3)} [data-state="not-applicable"]`, { timeout: 5000 });
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['studyUid'])).toBe(uid(3));
    expect(await unchanged?.evaluate((el) => el.isConnected)).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.study-head');
    expect(new URL(page.url()).pathname).toBe(`/studies/${uid(3)}`);
  }, 20_000);
});
