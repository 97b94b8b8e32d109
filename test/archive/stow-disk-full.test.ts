import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { close, createWriteStream, open, readdirSync, readlinkSync, write, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@mipseg/shared/config';
import { Archive, FileBlobStore, SqliteArchiveIndex } from '@mipseg/shared/store';
import { startGateway, type GatewayServer } from '@mipseg/gateway';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { failureReasons, fetchStow, postStow, type StowReply } from '../support/stow';

/**
 * A volume with `free` bytes left, as far as uploads go: a temporary file's write that does not fit fails with
 * ENOSPC, through the same fs.WriteStream the archive uses (its `fs` option), so the stream behaves as on a full
 * disk. Everything else (renames, the index) goes to the real, roomy disk.
 */
class FillingBlobStore extends FileBlobStore {
  free = Number.MAX_SAFE_INTEGER;
  /** Bytes written to temporary files so far. */
  written = 0;
  /** Whether writes of whole files (the metadata cache) fail as on a full disk. */
  cacheWritesFail = false;

  constructor(private readonly dir: string) {
    super(dir);
  }

  override createTemp(): { path: string; stream: WriteStream } {
    const path = join(this.dir, 'tmp', `${randomUUID()}.part`);
    const writeOrFail = (fd: number, buffer: Buffer, offset: number, length: number, position: number | null,
      callback: (err: NodeJS.ErrnoException | null, written: number, buffer: Buffer) => void) => {
      if (length > this.free) {
        const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        setImmediate(() => callback(err, 0, buffer));
        return;
      }
      this.free -= length;
      this.written += length;
      write(fd, buffer, offset, length, position, callback);
    };
    return { path, stream: createWriteStream(path, { flags: 'wx', fs: { open, close, write: writeOrFail } }) };
  }

  override freeBytes(): Promise<number> {
    return Promise.resolve(this.free);
  }

  override writeAtomic(key: string, data: Buffer | string): Promise<void> {
    if (this.cacheWritesFail) {
      return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }));
    }
    return super.writeAtomic(key, data);
  }
}

const STUDY = '2.25.700'; // syntheticPetInstance's study
// 128 x 128 16-bit pixels: each instance is larger than a file stream's buffer, so writes wait for 'drain'.
const instance = (sop: string) => Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0], rows: 128, columns: 128 }));
const referenced = (reply: StowReply) => (reply.body?.['00081199']?.Value ?? []).map((item) => String(item['00081155']?.Value?.[0]));

describe('STOW-RS on a full disk', () => {
  let dataDir: string;
  let blobs: FillingBlobStore;
  let archive: Archive;
  let gateway: GatewayServer;
  let base: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-full-'));
    blobs = new FillingBlobStore(dataDir);
    await blobs.init();
    const log = pino({ level: 'silent' });
    archive = new Archive(blobs, new SqliteArchiveIndex(join(dataDir, 'index.sqlite')), log);
    gateway = await startGateway({ config: loadConfig({ DATA_DIR: dataDir, PORT: '0' }), archive, log });
    base = `http://127.0.0.1:${gateway.port}`;
  });
  afterEach(async () => {
    await gateway.close(1000);
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const storedFiles = () => readdirSync(join(dataDir, 'instances'), { recursive: true }).map(String).filter((f) => f.endsWith('.dcm'));
  const tempFiles = () => readdirSync(join(dataDir, 'tmp'));

  async function expectStillServing(): Promise<void> {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/dicomweb/studies`)).status).toBe(200);
  }

  test('with no space left, answers 507 with 0xA700 for every part, keeps no temp file and keeps serving', async () => {
    blobs.free = 0;
    const sops = ['2.25.7601', '2.25.7602', '2.25.7603', '2.25.7604', '2.25.7605'];
    const reply = await postStow(`${base}/dicomweb/studies`, sops.map(instance));
    expect(reply.status).toBe(507);
    expect(failureReasons(reply)).toEqual(sops.map(() => 0xa700));
    expect(tempFiles()).toEqual([]);
    expect(storedFiles()).toEqual([]);
    expect(archive.index.countInstances()).toBe(0);
    await expectStillServing();
  });

  test('when fdatasync fails (EIO, or ENOSPC as NFS reports it there), answers 507 and keeps no descriptor of the removed temp file', async () => {
    const openTempFiles = () => readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    }).filter((target) => target.startsWith(join(dataDir, 'tmp')));
    const sync = jest.spyOn(fs, 'fdatasync').mockImplementation((_fd, callback) => {
      setImmediate(() => callback(Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' })));
    });
    try {
      const reply = await postStow(`${base}/dicomweb/studies`, [instance('2.25.7631'), instance('2.25.7632')]);
      expect(reply.status).toBe(507);
      expect(failureReasons(reply)).toEqual([0xa700, 0xa700]);
    } finally {
      sync.mockRestore();
    }
    expect(tempFiles()).toEqual([]);
    expect(openTempFiles()).toEqual([]);
    await expectStillServing();
  });

  test('below MIN_FREE_DISK_BYTES, a large part is refused (507) before it is written to a temp file, not once it is whole', async () => {
    // 10 GiB free, a byte under the floor: the volume has room, but not for what would take it below the floor.
    blobs.free = 10 * 2 ** 30;
    archive.keepFree(blobs.free + 1);
    const large = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.7641', imagePositionPatient: [0, 0, 0], rows: 3072, columns: 4096 }));
    const reply = await postStow(`${base}/dicomweb/studies`, [large]);
    expect(reply.status).toBe(507);
    expect(failureReasons(reply)).toEqual([0xa700]);
    // Its head (1 MiB, where the SOP Instance UID is read) is written first: a re-send of a stored instance is not refused.
    expect(blobs.written).toBeLessThan(2 * 1024 * 1024);
    expect(tempFiles()).toEqual([]);
    await expectStillServing();

    archive.keepFree(0);
    expect((await postStow(`${base}/dicomweb/studies`, [large])).status).toBe(200);
    archive.keepFree(blobs.free + 1);
    expect((await postStow(`${base}/dicomweb/studies`, [large])).status).toBe(200);
  });

  test('below MIN_FREE_DISK_BYTES, a part under a stored instance\'s UID is held to the floor past the stored copy\'s size', async () => {
    expect((await postStow(`${base}/dicomweb/studies`, [instance('2.25.7661')])).status).toBe(200);
    blobs.free = 10 * 2 ** 30;
    archive.keepFree(blobs.free + 1);
    blobs.written = 0;
    const large = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.7661', imagePositionPatient: [0, 0, 0], rows: 3072, columns: 4096 }));
    const reply = await postStow(`${base}/dicomweb/studies`, [large]);
    expect(reply.status).toBe(507);
    expect(blobs.written).toBeLessThan(2 * 1024 * 1024);
  });

  test('below MIN_FREE_DISK_BYTES, a part of a request saying it holds results is held to the floor past a result\'s size', async () => {
    blobs.free = 10 * 2 ** 30;
    archive.keepFree(blobs.free + 1);
    blobs.written = 0;
    // 72 MiB: more than any result.
    const large = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.7671', imagePositionPatient: [0, 0, 0], rows: 4096, columns: 9216 }));
    const res = await fetchStow(`${base}/dicomweb/studies`, [large], { headers: { 'Mipseg-Results': 'true' } });
    expect(res.status).toBe(507);
    expect(blobs.written).toBeLessThan(66 * 1024 * 1024);
  });

  test('a part whose temp file cannot even be removed is answered failed, and the parts stored beside it are listed', async () => {
    const size = instance('2.25.7651').length;
    blobs.free = Math.floor(1.5 * size); // the first fits; the second fills the disk
    const discard = jest.spyOn(blobs, 'discardTemp').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' }));
    try {
      const reply = await postStow(`${base}/dicomweb/studies`, [instance('2.25.7651'), instance('2.25.7652')]);
      expect(reply.status).toBe(202);
      expect(referenced(reply)).toEqual(['2.25.7651']);
      expect(failureReasons(reply)).toEqual([0xa700]);
    } finally {
      discard.mockRestore();
    }
    await expectStillServing();
  });

  test('viewers still get metadata when the disk is too full to cache it', async () => {
    expect((await postStow(`${base}/dicomweb/studies`, [instance('2.25.7621')])).status).toBe(200);
    blobs.cacheWritesFail = true;
    const res = await fetch(`${base}/dicomweb/studies/${STUDY}/metadata`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as unknown[]).length).toBe(1);
    const search = await fetch(`${base}/dicomweb/studies?includefield=00081030`);
    expect(search.status).toBe(200);
  });

  test('when the disk fills mid-request, answers 202 listing the parts stored, and files and index agree', async () => {
    const size = instance('2.25.7611').length;
    blobs.free = Math.floor(2.5 * size); // two instances fit; the third fills the disk
    const sops = ['2.25.7611', '2.25.7612', '2.25.7613', '2.25.7614', '2.25.7615'];
    const reply = await postStow(`${base}/dicomweb/studies`, sops.map(instance));
    expect(reply.status).toBe(202);
    expect(referenced(reply)).toEqual(sops.slice(0, 2));
    expect(failureReasons(reply)).toEqual([0xa700, 0xa700, 0xa700]);
    expect(reply.warning).toMatch(/part 3 \(2\.25\.\d+\): out of storage: ENOSPC/);
    expect(tempFiles()).toEqual([]);
    expect(storedFiles()).toHaveLength(2);
    expect(archive.index.listInstances({ studyUid: STUDY }).map((i) => i.sopInstanceUid).sort()).toEqual(sops.slice(0, 2));
    await expectStillServing();

    // Space again: the sender's retry stores the rest, and what was stored before is unchanged.
    blobs.free = Number.MAX_SAFE_INTEGER;
    const retry = await postStow(`${base}/dicomweb/studies`, sops.map(instance));
    expect(retry.status).toBe(200);
    expect(storedFiles()).toHaveLength(5);
    expect(archive.index.countInstances()).toBe(5);
  });
});
