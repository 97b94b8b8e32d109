import { connect } from 'node:net';
import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import type { SegmentationModel } from '@mipseg/shared/inference';
import { MAX_WAITING_SEGMENTATIONS } from '../../services/gateway/src/worklist/segment-mip-route';
import { until } from '../support/until';
import { startWorklistServer, type WorklistServer } from './worklist-server';

function whitePng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  png.data.fill(255);
  return PNG.sync.write(png);
}

/** A valid PNG whose IHDR claims `width` × `height`: the file stays tiny, so only the header can refuse it. */
function pngDeclaring(width: number, height: number): Buffer {
  const png = whitePng(8, 8);
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  return png;
}

/** The PNG marked interlaced (Adam7) in its IHDR, with the chunk's CRC made right again. */
function markedInterlaced(png: Buffer): Buffer {
  const copy = Buffer.from(png);
  copy[28] = 1;
  copy.writeUInt32BE(crc32(copy.subarray(12, 29)), 29);
  return copy;
}

describe('"Try a MIP image" bounds what it holds in memory', () => {
  let server: WorklistServer;
  /** Segmentations wait on this until the test opens it. */
  let open: () => void = () => undefined;
  let gate = Promise.resolve();
  const hold = () => {
    gate = new Promise((resolve) => {
      open = resolve;
    });
  };
  beforeAll(async () => {
    server = await startWorklistServer({}, undefined, (model): SegmentationModel => ({
      ...model,
      segment: async (...args) => {
        await gate;
        return model.segment(...args);
      },
    }));
  });
  afterAll(async () => {
    open();
    await server.stop();
  });

  const post = (body: Buffer) => fetch(`${server.root}/api/segment-mip`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array(body) });

  test('refuses an image that declares 4096 × 4096 pixels with 413, before decoding it', async () => {
    const res = await post(pngDeclaring(4096, 4096));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_PAYLOAD_TOO_LARGE' });
  });

  test('refuses an interlaced PNG with 400 before inflating it (pngjs inflates those without a bound)', async () => {
    const res = await post(markedInterlaced(whitePng(8, 8)));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_IMAGE_INVALID', message: expect.stringMatching(/interlac/) });
  });

  test('queues a bounded number of images behind a running one and refuses the next with 503 and Retry-After', async () => {
    hold();
    const running = post(whitePng(32, 32));
    await new Promise((r) => setTimeout(r, 300)); // the first has the model; the next ones wait
    const queued = Array.from({ length: MAX_WAITING_SEGMENTATIONS }, () => post(whitePng(32, 32)));
    await new Promise((r) => setTimeout(r, 300));
    const refused = await Promise.race([post(whitePng(32, 32)),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('queued instead of refused')), 5000))]);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ code: 'MIPSEG_BUSY' });
    open();
    for (const res of await Promise.all([running, ...queued])) expect(res.status).toBe(200);
  });

  test('counts an upload as waiting from its first byte: bodies still arriving fill the queue, and give their place back when cut off', async () => {
    const png = whitePng(256, 256);
    const { port } = new URL(server.root);
    // Uploads that send half their body and then stall, as a slow or hostile sender does.
    const stalled = Array.from({ length: MAX_WAITING_SEGMENTATIONS }, () => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(`POST /api/segment-mip HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: image/png\r\nContent-Length: ${png.length}\r\n\r\n`);
      socket.write(png.subarray(0, png.length >> 1));
      return socket;
    });
    // Asked until the stalled uploads hold the places (without the count from the first byte, never: a timeout).
    const answered = (status: number) => async () => {
      const res = await post(png);
      return res.status === status ? res : undefined;
    };
    try {
      const refused = await until(answered(503), 'a 503 while the stalled uploads wait', { timeoutMs: 8000 });
      expect(await refused.json()).toMatchObject({ code: 'MIPSEG_BUSY' });
    } finally {
      for (const socket of stalled) socket.destroy();
    }
    await until(answered(200), 'a 200 once the stalled uploads are cut off', { timeoutMs: 8000 });
  });

  test('decodes an image only when its turn comes: an unreadable one waits behind the running one', async () => {
    hold();
    const running = post(whitePng(32, 32));
    await new Promise((r) => setTimeout(r, 300));
    const broken = whitePng(32, 32);
    broken.fill(0, 40); // header intact, compressed data destroyed
    let answered = false;
    const waiting = post(broken).then((res) => {
      answered = true;
      return res;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(answered).toBe(false);
    open();
    expect((await running).status).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
  });
});

describe('"Try a MIP image" during a shutdown', () => {
  test('an image waiting for the model when the server starts closing is still segmented (200), not refused with a disposed model', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const server = await startWorklistServer({}, undefined, (model): SegmentationModel => ({
      ...model,
      segment: async (...args) => {
        await gate;
        return model.segment(...args);
      },
    }));
    const post = () => fetch(`${server.root}/api/segment-mip`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array(whitePng(32, 32)) });
    const running = post();
    await new Promise((r) => setTimeout(r, 300));
    const waiting = post();
    await new Promise((r) => setTimeout(r, 100));
    const stopped = server.stop();
    setTimeout(open, 200); // within the gateway's grace period
    expect([(await running).status, (await waiting).status]).toEqual([200, 200]);
    await stopped;
  });
});
