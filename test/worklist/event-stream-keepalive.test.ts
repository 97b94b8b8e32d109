import { startWorklistServer, type WorklistServer } from './worklist-server';

const TIMEOUT_MS = 1000;

describe('the worklist event stream under HTTP_INACTIVITY_TIMEOUT_MS', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer({ HTTP_INACTIVITY_TIMEOUT_MS: String(TIMEOUT_MS) });
  });
  afterAll(() => server.stop());

  test('stays open for several timeouts with nothing to report, kept alive by ping events that carry their interval', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    let ended = false;
    const deadline = Date.now() + TIMEOUT_MS * 3.5;
    while (Date.now() < deadline && !ended) {
      const next = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(r, deadline - Date.now()))]);
      if (next?.done) ended = true;
      else if (next?.value) text += new TextDecoder().decode(next.value);
    }
    controller.abort();
    expect(ended).toBe(false);
    // A named event, not a comment: a comment fires nothing in EventSource, and the page could not tell a quiet
    // stream from a dead connection. The first comes at once, so that the page knows the interval from the start.
    const ping = `event: ping\ndata: ${JSON.stringify({ intervalMs: Math.floor(TIMEOUT_MS / 3) })}\n\n`;
    expect(text.startsWith(`retry: 2000\n\n${ping}`)).toBe(true);
    expect(text.split(ping).length - 1).toBeGreaterThanOrEqual(4);
  });
});
