import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { PNG } from 'pngjs';
import XMLHttpRequest from 'xhr2';
import { readEncapsulatedFrames } from '@mipseg/shared/dicom';
import { readMultipartParts } from '@mipseg/shared/dicomweb';
import { api } from 'dicomweb-client';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';
import { until } from '../support/until';

(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = XMLHttpRequest;

const STUDY = '2.25.9701';
const SERIES = '2.25.9701.1';
const SOP = '2.25.9701.1.1';
/** 40 frames of 256 × 256 16-bit samples: 5 MiB of Pixel Data, above WHOLE_READ_MAX_BYTES. */
const ROWS = 256;
const FRAMES = 40;
const PER_FRAME = ROWS * ROWS;

/** Frame f (1-based) holds f at every sample, but for its first, which holds -f: a wrong offset shows. */
function stored(): number[] {
  return Array.from({ length: PER_FRAME * FRAMES }, (_, i) => {
    const f = Math.floor(i / PER_FRAME) + 1;
    return i % PER_FRAME === 0 ? -f : f;
  });
}

interface Client {
  retrieveInstanceFrames(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; frameNumbers: number[] }): Promise<ArrayBuffer[]>;
}

describe('WADO-RS frames of a large native instance', () => {
  let server: TestArchiveServer;
  let client: Client;
  beforeAll(async () => {
    server = await startTestArchive();
    client = new api.DICOMwebClient({ url: server.baseUrl, singlepart: false }) as unknown as Client;
    const file = Buffer.from(syntheticPetInstance({ sopInstanceUid: SOP, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0],
      rows: ROWS, columns: ROWS, numberOfFrames: FRAMES, stored: stored(), attributes: { StudyInstanceUID: STUDY } }));
    expect(file.length).toBeGreaterThan(5 * 1024 * 1024);
    expect((await postStow(`${server.baseUrl}/studies`, [file])).status).toBe(200);
  });
  afterAll(() => server.stop());

  // A viewer asks for each frame of an enhanced CT (150 MB, 300 frames) in a request of its own: each read all of it.
  test('are read from the file frame by frame, never the whole file, and are each frame\'s samples', async () => {
    const whole = server.archive.blobs.read.bind(server.archive.blobs);
    const wholeReads: string[] = [];
    server.archive.blobs.read = (key: string) => {
      wholeReads.push(key);
      return whole(key);
    };
    try {
      const frames = await client.retrieveInstanceFrames({ studyInstanceUID: STUDY, seriesInstanceUID: SERIES, sopInstanceUID: SOP,
        frameNumbers: [2, 40] });
      const samples = frames.map((f) => new Int16Array(f));
      expect(samples.map((s) => [s.length, s[0], s[1], s[PER_FRAME - 1]])).toEqual([[PER_FRAME, -2, 2, 2], [PER_FRAME, -40, 40, 40]]);
      expect(wholeReads).toEqual([]);
    } finally {
      server.archive.blobs.read = whole;
    }
  });

  /** Runs `request` with the archive's whole-file reads counted. */
  async function countingWholeReads<T>(request: () => Promise<T>): Promise<{ result: T; wholeReads: number }> {
    const whole = server.archive.blobs.read.bind(server.archive.blobs);
    let wholeReads = 0;
    server.archive.blobs.read = (key: string) => {
      wholeReads += 1;
      return whole(key);
    };
    try {
      return { result: await request(), wholeReads };
    } finally {
      server.archive.blobs.read = whole;
    }
  }

  test('its Pixel Data bulk data streams from the file, never read whole, and is every frame\'s samples', async () => {
    const { result: res, wholeReads } = await countingWholeReads(() => fetch(
      `${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/bulkdata/7FE00010`,
      { headers: { Accept: 'multipart/related; type="application/octet-stream"' } }));
    expect(res.status).toBe(200);
    const [part] = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
    const expected = Buffer.from(Int16Array.from(stored()).buffer);
    expect(part?.body.equals(expected)).toBe(true);
    expect(wholeReads).toBe(0);
  });

  test('a rendered frame reads that frame alone, never the whole file', async () => {
    const { result: res, wholeReads } = await countingWholeReads(() => fetch(
      `${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames/40/rendered`, { headers: { Accept: 'image/png' } }));
    expect(res.status).toBe(200);
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
    expect([png.width, png.height]).toEqual([ROWS, ROWS]);
    // Frame 40 holds -40 at its first sample and 40 elsewhere: the default window puts them at the two ends.
    expect([png.data[0], png.data[4]]).toEqual([0, 255]);
    expect(wholeReads).toBe(0);
  });

  test('refuses (400) a frame list naming more frames than the instance has, which must repeat some, reading no frame', async () => {
    const ranged = server.archive.blobs.openRanged.bind(server.archive.blobs);
    let opened = 0;
    server.archive.blobs.openRanged = async (key: string) => {
      const file = await ranged(key);
      opened += 1;
      return file;
    };
    try {
      const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames/${Array(FRAMES + 1).fill(1).join(',')}`,
        { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/41 frames, of an instance of 40/);
      expect(opened).toBe(1); // the header, read for NumberOfFrames
    } finally {
      server.archive.blobs.openRanged = ranged;
    }
  });

  test('answers 404 for a frame beyond NumberOfFrames', async () => {
    const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/frames/41`,
      { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(res.status).toBe(404);
  });
});

describe('WADO-RS frames of a large compressed (JPEG-LS) instance', () => {
  const C_STUDY = '2.25.9702';
  const C_SERIES = '2.25.9702.1';
  const C_SOP = '2.25.9702.1.1';
  let server: TestArchiveServer;
  let dir: string;
  let compressed: Buffer;
  beforeAll(async () => {
    server = await startTestArchive();
    dir = mkdtempSync(join(tmpdir(), 'mipseg-large-jls-'));
    // Noise does not compress: 40 frames of it stay above WHOLE_READ_MAX_BYTES as JPEG-LS too.
    const noise = Array.from({ length: PER_FRAME * FRAMES }, (_, i) => ((i * 2654435761) >>> 7) & 0x7fff);
    writeFileSync(join(dir, 'native.dcm'), syntheticPetInstance({ sopInstanceUid: C_SOP, seriesInstanceUid: C_SERIES,
      imagePositionPatient: [0, 0, 0], rows: ROWS, columns: ROWS, numberOfFrames: FRAMES, stored: noise, attributes: { StudyInstanceUID: C_STUDY } }));
    expect(spawnSync('dcmcjpls', ['+el', join(dir, 'native.dcm'), join(dir, 'jls.dcm')]).status).toBe(0);
    compressed = readFileSync(join(dir, 'jls.dcm'));
    expect(compressed.length).toBeGreaterThan(4 * 1024 * 1024);
    expect((await postStow(`${server.baseUrl}/studies`, [compressed])).status).toBe(200);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('are read from the file frame by frame, never the whole file, and are each frame\'s bitstream as stored', async () => {
    const reads = jest.spyOn(server.archive.blobs, 'read');
    const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/frames/3,40`,
      { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(res.status).toBe(200);
    const parts = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
    const { frames } = readEncapsulatedFrames(compressed);
    expect(frames).toHaveLength(FRAMES);
    expect(parts.map((p) => p.body)).toEqual([Buffer.from(frames[2] as Uint8Array), Buffer.from(frames[39] as Uint8Array)]);
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });

  test('its Pixel Data bulk data is every frame\'s bitstream, each read from the file as its turn comes, never the whole file', async () => {
    const reads = jest.spyOn(server.archive.blobs, 'read');
    const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/bulkdata/7FE00010`,
      { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/type="application\/octet-stream"/);
    const parts = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
    const { frames } = readEncapsulatedFrames(compressed);
    expect(parts).toHaveLength(FRAMES);
    // Compared as booleans: jest's deep equality walks megabytes of Buffers byte by byte.
    expect(parts.map((p, k) => p.body.equals(frames[k] as Uint8Array))).toEqual(frames.map(() => true));
    expect(parts[0]?.headers['content-type']).toBe('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.80');
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });

  test('its Pixel Data bulk data, asked for uncompressed, is a 406 that leaves no file open', async () => {
    const ranged = server.archive.blobs.openRanged.bind(server.archive.blobs);
    let open = 0;
    server.archive.blobs.openRanged = async (key: string) => {
      const file = await ranged(key);
      open += 1;
      return { size: file.size, read: (at: number, n: number) => file.read(at, n), close: async () => { open -= 1; await file.close(); } };
    };
    try {
      const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/bulkdata/7FE00010`,
        { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
      expect(res.status).toBe(406);
      expect(open).toBe(0);
    } finally {
      server.archive.blobs.openRanged = ranged;
    }
  });

  // Express answers HEAD with the GET handler: each of the 40 frames was read (84 reads) for a body no one gets.
  test('its Pixel Data bulk data, asked for by HEAD, has the GET\'s status and type without a frame read, and closes its file', async () => {
    const ranged = server.archive.blobs.openRanged.bind(server.archive.blobs);
    let open = 0;
    const reads: Array<{ at: number; n: number }> = [];
    server.archive.blobs.openRanged = async (key: string) => {
      const file = await ranged(key);
      open += 1;
      return { size: file.size, read: (at: number, n: number) => { reads.push({ at, n }); return file.read(at, n); },
        close: async () => { open -= 1; await file.close(); } };
    };
    try {
      const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/bulkdata/7FE00010`,
        { method: 'HEAD', headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/octet-stream"; boundary=/);
      // The header probe at 0, then item headers (and an offset table) to place the frames: nothing a frame's size.
      const smallestFrame = Math.min(...readEncapsulatedFrames(compressed).frames.map((f) => f.length));
      expect(reads[0]?.at).toBe(0);
      expect(reads.slice(1).filter((r) => r.n >= smallestFrame)).toEqual([]);
      expect(open).toBe(0);
    } finally {
      server.archive.blobs.openRanged = ranged;
    }
  });

  test('a rendered frame is that frame alone, read from the file and decoded, never the whole file', async () => {
    const reads = jest.spyOn(server.archive.blobs, 'read');
    try {
      const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/frames/40/rendered?window=16384,32768`,
        { headers: { Accept: 'image/png' } });
      expect(res.status).toBe(200);
      const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
      expect([png.width, png.height]).toEqual([ROWS, ROWS]);
      // Frame 40's first sample, drawn with the window of 0 .. 32767 given.
      const first = ((PER_FRAME * 39 * 2654435761) >>> 7) & 0x7fff;
      expect(png.data[0]).toBe(Math.round(((first - (16384 - 0.5 - 32767 / 2)) / 32767) * 255));
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
  });

  // Last here: it replaces the instance the tests above read.
  test('of a copy replaced after its lookup are read to the end of the file opened, not to the row\'s size', async () => {
    const [listed] = server.archive.index.listInstances({ studyUid: C_STUDY });
    const noise = Array.from({ length: PER_FRAME * FRAMES }, (_, i) => ((i * 2654435761) >>> 7) & 0x7fff);
    // Longer than the copy it replaces: its Pixel Data ends past the end of the file the row describes.
    writeFileSync(join(dir, 'native-2.dcm'), syntheticPetInstance({ sopInstanceUid: C_SOP, seriesInstanceUid: C_SERIES,
      imagePositionPatient: [0, 0, 0], rows: ROWS, columns: ROWS, numberOfFrames: FRAMES, stored: noise,
      attributes: { StudyInstanceUID: C_STUDY, ImageComments: 'corrected '.repeat(1000) } }));
    expect(spawnSync('dcmcjpls', ['+el', join(dir, 'native-2.dcm'), join(dir, 'jls-2.dcm')]).status).toBe(0);
    const corrected = readFileSync(join(dir, 'jls-2.dcm'));
    expect(corrected.length).toBeGreaterThan(compressed.length);
    expect((await postStow(`${server.baseUrl}/studies`, [corrected])).status).toBe(202);
    const index = server.archive.index;
    const lookUp = jest.spyOn(index, 'listInstances').mockReturnValue(listed ? [listed] : []);
    try {
      const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/frames/40`,
        { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
      expect(res.status).toBe(200);
      const [part] = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
      expect(part?.body.equals(Buffer.from(readEncapsulatedFrames(corrected).frames[39] as Uint8Array))).toBe(true);
    } finally {
      lookUp.mockRestore();
    }
  });

  test('answers 404 for a frame beyond NumberOfFrames', async () => {
    const res = await fetch(`${server.baseUrl}/studies/${C_STUDY}/series/${C_SERIES}/instances/${C_SOP}/frames/41`,
      { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(res.status).toBe(404);
  });
});

describe('a client that goes away in the middle of a large retrieve', () => {
  test('is not logged as an error of the server', async () => {
    const lines: Array<{ level: number; msg?: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg?: string }) });
    const server = await startTestArchive({}, log);
    try {
      // 40 MiB: more than the socket takes before the client leaves.
      const samples = stored();
      const files = Array.from({ length: 8 }, (_, k) => Buffer.from(syntheticPetInstance({ sopInstanceUid: `2.25.9703.1.${k + 1}`,
        seriesInstanceUid: '2.25.9703.1', imagePositionPatient: [0, 0, 4 * k], rows: ROWS, columns: ROWS, numberOfFrames: FRAMES, stored: samples,
        attributes: { StudyInstanceUID: '2.25.9703' } })));
      expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
      const leaving = new AbortController();
      const res = await fetch(`${server.baseUrl}/studies/2.25.9703`, { signal: leaving.signal,
        headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      expect(res.status).toBe(200);
      const reader = res.body?.getReader();
      await reader?.read(); // the first bytes, then away
      leaving.abort();
      await until(() => Promise.resolve(lines.some((l) => l.msg === 'request') ? true : undefined), 'the request log line');
      // The handler learns of the close after the request line: long enough for what it would log.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
