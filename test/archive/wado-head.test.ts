import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import type { StoredInstance } from '@mipseg/shared/store';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const STUDY = '2.25.9741';
/** More slices than the retrieve reads ahead (8), each read whole (under 1 MiB). */
const SERIES = '2.25.9741.1';
const SLICES = 12;
/** One instance of 40 frames of 256 × 256 16-bit samples: 5 MiB, streamed and read frame by frame. */
const LARGE_SERIES = '2.25.9741.2';
const LARGE_SOP = '2.25.9741.2.1';
const ROWS = 256;
const FRAMES = 40;
const DICOM = 'multipart/related; type="application/dicom"';
const OCTETS = 'multipart/related; type="application/octet-stream"';

interface Reads {
  /** Files read whole, and files opened to be read by ranges. */
  whole: number;
  opened: number;
  /** Bytes asked for, whole files and ranges together. */
  bytes: number;
  /** Ranges read from opened files. */
  ranges: Array<{ at: number; n: number }>;
  /** Instances whose metadata was read (cached or parsed). */
  metadata: number;
  /** Opened files not closed when the response was had. */
  open: number;
}

/**
 * Express answers HEAD with the GET handler and Node drops the body: a HEAD of a series read every file of it (a 2 GB
 * study, 2 GB) for nothing. HEAD gets the GET's status and type, reading no more than deciding the status needs.
 */
describe('WADO-RS asked for by HEAD', () => {
  let server: TestArchiveServer;
  let slice: number;
  beforeAll(async () => {
    server = await startTestArchive();
    const slices = Array.from({ length: SLICES }, (_, k) => Buffer.from(syntheticPetInstance({ sopInstanceUid: `${SERIES}.${k + 1}`,
      seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, k], attributes: { StudyInstanceUID: STUDY, InstanceNumber: k + 1 } })));
    slice = slices[0]?.length ?? 0;
    const large = Buffer.from(syntheticPetInstance({ sopInstanceUid: LARGE_SOP, seriesInstanceUid: LARGE_SERIES, imagePositionPatient: [0, 0, 0],
      rows: ROWS, columns: ROWS, numberOfFrames: FRAMES, attributes: { StudyInstanceUID: STUDY } }));
    expect((await postStow(`${server.baseUrl}/studies`, [...slices, large])).status).toBe(200);
  });
  afterAll(() => server.stop());

  /** Sends a HEAD with the archive's reads counted. */
  async function headCounted(path: string, accept: string): Promise<{ res: Response; reads: Reads }> {
    const { blobs } = server.archive;
    const whole = blobs.read.bind(blobs);
    const ranged = blobs.openRanged.bind(blobs);
    const readMetadata = server.archive.readMetadata.bind(server.archive);
    const reads: Reads = { whole: 0, opened: 0, bytes: 0, ranges: [], metadata: 0, open: 0 };
    blobs.read = async (key: string) => {
      const bytes = await whole(key);
      reads.whole += 1;
      reads.bytes += bytes.length;
      return bytes;
    };
    blobs.openRanged = async (key: string) => {
      const file = await ranged(key);
      reads.opened += 1;
      reads.open += 1;
      return { size: file.size,
        read: (at: number, n: number) => {
          reads.ranges.push({ at, n });
          reads.bytes += n;
          return file.read(at, n);
        },
        close: async () => {
          reads.open -= 1;
          await file.close();
        } };
    };
    server.archive.readMetadata = (instance: StoredInstance) => {
      reads.metadata += 1;
      return readMetadata(instance);
    };
    try {
      const res = await fetch(`${server.baseUrl}${path}`, { method: 'HEAD', headers: { Accept: accept } });
      return { res, reads };
    } finally {
      blobs.read = whole;
      blobs.openRanged = ranged;
      server.archive.readMetadata = readMetadata;
    }
  }

  test('of a series retrieve answers the GET\'s status and type, reading its first instance alone', async () => {
    const { res, reads } = await headCounted(`/studies/${STUDY}/series/${SERIES}`, DICOM);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom"; boundary=\S+$/);
    expect({ whole: reads.whole, opened: reads.opened, bytes: reads.bytes }).toEqual({ whole: 1, opened: 0, bytes: slice });
  });

  test('of a retrieve of a large instance opens it and reads its header alone, closing it', async () => {
    const { res, reads } = await headCounted(`/studies/${STUDY}/series/${LARGE_SERIES}/instances/${LARGE_SOP}`, DICOM);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom"; boundary=/);
    expect(reads.ranges.map((r) => r.at)).toEqual([0]);
    expect({ whole: reads.whole, open: reads.open }).toEqual({ whole: 0, open: 0 });
  });

  test('of a retrieve the GET refuses answers the GET\'s status: 404 for no such series, 406 for a syntax not made', async () => {
    expect((await headCounted(`/studies/${STUDY}/series/2.25.9741.99`, DICOM)).res.status).toBe(404);
    const jpegLs = `${DICOM}; transfer-syntax=1.2.840.10008.1.2.4.80`;
    const { res, reads } = await headCounted(`/studies/${STUDY}/series/${SERIES}`, jpegLs);
    expect(res.status).toBe(406);
    expect(reads.bytes).toBe(0);
  });

  test('of a series\' metadata, in XML or JSON, reads the first instance\'s alone', async () => {
    const xml = await headCounted(`/studies/${STUDY}/series/${SERIES}/metadata`, 'multipart/related; type="application/dicom+xml"');
    expect(xml.res.status).toBe(200);
    expect(xml.res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom\+xml"; boundary=/);
    expect(xml.reads.metadata).toBe(1);
    const json = await headCounted(`/studies/${STUDY}/series/${SERIES}/metadata`, 'application/dicom+json');
    expect(json.res.status).toBe(200);
    expect(json.res.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
    expect(json.reads.metadata).toBe(1);
  });

  test('of frames of a large instance reads its header alone, and answers 404 for a frame past NumberOfFrames', async () => {
    const frames = `/studies/${STUDY}/series/${LARGE_SERIES}/instances/${LARGE_SOP}/frames`;
    const { res, reads } = await headCounted(`${frames}/1,2,40`, OCTETS);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/octet-stream"; boundary=/);
    expect(reads.ranges.map((r) => r.at)).toEqual([0]);
    expect({ whole: reads.whole, open: reads.open }).toEqual({ whole: 0, open: 0 });
    expect((await headCounted(`${frames}/41`, OCTETS)).res.status).toBe(404);
  });

  test('of a large instance\'s Pixel Data bulk data reads its header alone, closing it', async () => {
    const { res, reads } = await headCounted(`/studies/${STUDY}/series/${LARGE_SERIES}/instances/${LARGE_SOP}/bulkdata/7FE00010`, OCTETS);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/octet-stream"; boundary=/);
    expect(reads.ranges.map((r) => r.at)).toEqual([0]);
    expect({ whole: reads.whole, open: reads.open }).toEqual({ whole: 0, open: 0 });
  });
});
