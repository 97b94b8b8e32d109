import { encodeFileMetaInformation, TransferSyntax } from '@mipseg/shared/dicom';
import { walkFileMeta } from '../../shared/src/dicom/file-meta';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow } from '../support/stow';

const STUDY = '2.25.9810';
const SERIES = `${STUDY}.1`;
const PRIVATE_TRANSFER_SYNTAX = '1.2.826.0.1.3680043.9.7777.1';
const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';

/** A PET slice (Explicit VR Little Endian data set, native Pixel Data) of SERIES. */
function slice(sop: string): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: STUDY, PatientID: 'STOW-TS' } }));
}

/** The file with its File Meta Information written again, naming `transferSyntaxUid`; the data set as it was. */
function labelled(file: Buffer, sop: string, transferSyntaxUid: string): Buffer {
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: PET_IMAGE_STORAGE, mediaStorageSopInstanceUid: sop, transferSyntaxUid });
  return Buffer.concat([meta, file.subarray(walkFileMeta(file).dataSetOffset)]);
}

/** Explicit VR Little Endian element header of (FFFE,xxxx) items: tag and a 32-bit length. */
function item(element: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}

/** The slice's native Pixel Data (its last element) replaced by encapsulated Pixel Data: an empty offset table, one fragment. */
function withEncapsulatedPixelData(file: Buffer): Buffer {
  const at = file.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const header = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]); // (7FE0,0010) OB, undefined length
  return Buffer.concat([file.subarray(0, at), header, item(0xe000, Buffer.alloc(0)), item(0xe000, Buffer.alloc(64, 1)), item(0xe0dd, Buffer.alloc(0))]);
}

/** Explicit VR Little Endian element: tag (group, element), VR and value, with the header its VR takes. */
function element(group: number, elementNumber: number, vr: 'LO' | 'OB', value: Buffer): Buffer {
  const long = vr === 'OB';
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elementNumber, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

/**
 * The file with a private element of `bytes` just before its Pixel Data, so that the header (what comes before Pixel
 * Data) runs past the first MiB a STOW part's head holds: its encoding can only be told from the whole file.
 */
function withLongHeader(file: Buffer, bytes: number): Buffer {
  const at = file.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const creator = element(0x7fdf, 0x0010, 'LO', Buffer.from('MIPSEG TEST '));
  return Buffer.concat([file.subarray(0, at), creator, element(0x7fdf, 0x1000, 'OB', Buffer.alloc(bytes, 7)), file.subarray(at)]);
}

describe('STOW-RS holds an instance\'s encoding to the transfer syntaxes C-STORE accepts', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  const stored = (sop: string): boolean => server.archive.index.findInstance(sop) !== undefined;

  test('a private transfer syntax is refused with 0xC122 (Referenced Transfer Syntax not supported), and 409 alone', async () => {
    const sop = `${SERIES}.1`;
    const reply = await postStow(`${server.baseUrl}/studies`, [labelled(slice(sop), sop, PRIVATE_TRANSFER_SYNTAX)]);
    expect(reply.status).toBe(409);
    expect(failureReasons(reply)).toEqual([0xc122]);
    expect(reply.warning).toContain(PRIVATE_TRANSFER_SYNTAX);
    expect(stored(sop)).toBe(false);
  });

  test('native Pixel Data labelled RLE Lossless is refused with 0xC000, saying so, beside an instance that is stored (202)', async () => {
    const [bad, good] = [`${SERIES}.2`, `${SERIES}.3`];
    const reply = await postStow(`${server.baseUrl}/studies`, [labelled(slice(bad), bad, TransferSyntax.RleLossless), slice(good)]);
    expect(reply.status).toBe(202);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.warning).toMatch(/Pixel Data is native \(not encapsulated\), but transfer syntax 1\.2\.840\.10008\.1\.2\.5 is a compressed one/);
    expect([stored(bad), stored(good)]).toEqual([false, true]);
  });

  test('encapsulated Pixel Data labelled Explicit VR Little Endian is refused with 0xC000', async () => {
    const sop = `${SERIES}.4`;
    const reply = await postStow(`${server.baseUrl}/studies`, [withEncapsulatedPixelData(slice(sop))]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.warning).toMatch(/Pixel Data is encapsulated \(compressed\), but transfer syntax 1\.2\.840\.10008\.1\.2\.1 is a native one/);
    expect(stored(sop)).toBe(false);
  });

  test('encapsulated Pixel Data labelled Explicit VR Little Endian behind a header of over a MiB is refused too', async () => {
    const sop = `${SERIES}.6`;
    const reply = await postStow(`${server.baseUrl}/studies`, [withEncapsulatedPixelData(withLongHeader(slice(sop), 1_200_000))]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.warning).toMatch(/Pixel Data is encapsulated \(compressed\), but transfer syntax 1\.2\.840\.10008\.1\.2\.1 is a native one/);
    expect(stored(sop)).toBe(false);
  });

  test('an instance behind a header of over a MiB, encoded as its transfer syntax says, is stored', async () => {
    const sop = `${SERIES}.7`;
    const reply = await postStow(`${server.baseUrl}/studies`, [withLongHeader(slice(sop), 1_200_000)]);
    expect(reply.status).toBe(200);
    expect(stored(sop)).toBe(true);
  });

  test('encapsulated Pixel Data labelled RLE Lossless, a syntax on the list, is stored as it came', async () => {
    const sop = `${SERIES}.5`;
    const reply = await postStow(`${server.baseUrl}/studies`, [labelled(withEncapsulatedPixelData(slice(sop)), sop, TransferSyntax.RleLossless)]);
    expect(reply.status).toBe(200);
    expect(server.archive.index.findInstance(sop)?.transferSyntaxUid).toBe(TransferSyntax.RleLossless);
  });
});
