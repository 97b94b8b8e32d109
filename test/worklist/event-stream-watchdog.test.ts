import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Page } from 'playwright-core';
import { launchChromium, type TestBrowser } from './chromium';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { buildWorklistPage, startWorklistServer, type WorklistServer } from './worklist-server';

/** Pings every 500 ms (a third of it): the page gives a stream up after 2.5 pings' time without an event. */
const INACTIVITY_TIMEOUT_MS = 1500;

/**
 * A TCP proxy in front of the gateway that can make the event streams' connections half-open, as a laptop's sleep or a
 * VPN switch does: neither end is told, and from then on nothing the gateway sends reaches the browser.
 */
interface HalfOpeningProxy {
  readonly port: number;
  /** From now on the event streams open through the proxy pass nothing on; later connections work. */
  freezeEventStreams(): void;
  /**
   * From now on a new event stream gets its response's headers and nothing of its body, as from a proxy that buffers
   * responses: the browser's EventSource opens, and no event ever comes.
   */
  bufferEventStreamBodies(): void;
  /** Event streams asked for through the proxy so far. */
  readonly eventStreamsOpened: number;
  close(): Promise<void>;
}

async function startProxy(upstreamPort: number): Promise<HalfOpeningProxy> {
  const sockets = new Set<Socket>();
  const streams = new Set<{ frozen: boolean }>();
  let buffering = false;
  let eventStreamsOpened = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    const pair = { frozen: false };
    /** Set where this connection's body is held back: what of the headers has passed so far. */
    let headersOnly: string | undefined;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').startsWith('GET /api/worklist/events')) {
        streams.add(pair);
        eventStreamsOpened++;
        if (buffering) headersOnly = '';
      }
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.frozen) return;
      if (headersOnly === undefined) return void client.write(chunk);
      const before = headersOnly.length;
      headersOnly += chunk.toString('latin1');
      const end = headersOnly.indexOf('\r\n\r\n');
      if (end < 0) return void client.write(chunk);
      if (end + 4 > before) client.write(chunk.subarray(0, end + 4 - before));
      pair.frozen = true;
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    freezeEventStreams: () => { for (const pair of streams) pair.frozen = true; },
    bufferEventStreamBodies: () => { buffering = true; },
    get eventStreamsOpened() { return eventStreamsOpened; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('the worklist page\'s event stream on a connection that went half-open', () => {
  let server: WorklistServer;
  let proxy: HalfOpeningProxy;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    buildWorklistPage();
    server = await startWorklistServer({ HTTP_INACTIVITY_TIMEOUT_MS: String(INACTIVITY_TIMEOUT_MS) });
    indexSyntheticStudy(server.archive.index, syntheticStudy(0));
    proxy = await startProxy(server.gateway.port);
    browser = await launchChromium({ width: 1280, height: 720 });
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.stop();
  });

  test('says it is not updating once pings stop arriving, opens a new stream, and follows changes again', async () => {
    const uid = syntheticStudy(0).studyInstanceUid;
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await page.waitForSelector(`tr[data-study-uid="${uid}"]`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 5000 });
    proxy.freezeEventStreams();
    await page.waitForSelector('body[data-live="off"]', { state: 'attached', timeout: 5000 });
    expect(await page.locator('.live-indicator').textContent()).toBe('Not updating');
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 8000 });
    await server.queue.recordNotApplicable('na-0', uid, 'no PET series');
    await page.waitForSelector(`tr[data-study-uid="${uid}"] [data-state="not-applicable"]`, { timeout: 5000 });
  }, 30_000);

  test('behind a proxy that passes the headers but holds the body, never says it is live and keeps trying', async () => {
    const uid = syntheticStudy(0).studyInstanceUid;
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    await page.waitForSelector(`tr[data-study-uid="${uid}"]`);
    await page.waitForSelector('body[data-live="on"]', { state: 'attached', timeout: 5000 });
    proxy.bufferEventStreamBodies();
    proxy.freezeEventStreams();
    await page.waitForSelector('body[data-live="off"]', { state: 'attached', timeout: 5000 });
    const opened = proxy.eventStreamsOpened;
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { liveStates: string[] }).liveStates = seen;
      new MutationObserver(() => seen.push(document.body.dataset['live'] ?? '')).observe(document.body, { attributes: true });
    });
    // Watchdog 1.25 s, backoff 1 s then 2 s: at least two streams opened (and given up) in 6 s.
    await page.waitForTimeout(6000);
    expect(await page.evaluate(() => (window as unknown as { liveStates: string[] }).liveStates)).not.toContain('on');
    expect(proxy.eventStreamsOpened - opened).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
