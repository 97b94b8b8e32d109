import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as dcmjs from 'dcmjs';
import { Dataset } from 'dcmjs-dimse';
import { parseStoredDicom, readFileMetaInformation, type ParsedFileMeta } from '@mipseg/shared/dicom';

// The File Meta Information of any real file fits in this; a longer one is refused as truncated.
const META_PROBE_BYTES = 64 * 1024;

/** The first bytes of a file: its File Meta Information and, in any file mipseg writes, the image module. */
async function readProbe(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const probe = Buffer.alloc(META_PROBE_BYTES);
    const { bytesRead } = await handle.read(probe, 0, probe.length, 0);
    return probe.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Reads just the File Meta Information of a PS3.10 file. */
export async function readFileMeta(path: string): Promise<ParsedFileMeta> {
  return readFileMetaInformation(await readProbe(path));
}

/** The File Meta Information, and BitsAllocated where it lies within the first 64 KiB (undefined otherwise). */
export async function readFileMetaAndBits(path: string): Promise<{ meta: ParsedFileMeta; bitsAllocated: number | undefined }> {
  const probe = await readProbe(path);
  const meta = readFileMetaInformation(probe);
  let bitsAllocated: number | undefined;
  try {
    bitsAllocated = parseStoredDicom(probe, 'x00280101').uint16('x00280100');
  } catch {
    bitsAllocated = undefined; // a header longer than the probe: not known, and not needed unless transcoding
  }
  return { meta, bitsAllocated };
}

/**
 * A C-STORE data set that is a PS3.10 file's bytes after its File Meta Information, sent as they are:
 * dcmjs-dimse would otherwise parse the file and re-encode it with dcmjs, which can change bytes. The file
 * is read when the request goes out (dcmjs-dimse asks for the bytes then) and can be dropped after its
 * response. Only when the peer accepted another transfer syntax does the library ask for parsed elements,
 * to transcode them.
 */
export class P10FileDataSet extends Dataset {
  private raw: Buffer | undefined;
  private parsed = false;

  constructor(
    readonly path: string,
    readonly meta: ParsedFileMeta,
  ) {
    super({ SOPClassUID: meta.mediaStorageSopClassUid, SOPInstanceUID: meta.mediaStorageSopInstanceUid }, meta.transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    // Synchronous because dcmjs-dimse calls this synchronously while it writes P-DATA PDUs.
    this.raw ??= readFileSync(this.path).subarray(this.meta.dataSetOffset);
    return this.raw;
  }

  override getElements(): Record<string, unknown> {
    const elements = super.getElements();
    if (!this.parsed) {
      this.parsed = true;
      Object.assign(elements, new Dataset(this.getDenaturalizedDataset(), this.meta.transferSyntaxUid).getElements());
    }
    return elements;
  }

  /** Frees the file's bytes once the peer has answered. */
  release(): void {
    this.raw = undefined;
  }
}

/** A C-STORE data set of bytes already encoded in its transfer syntax, sent as they are. */
class EncodedDataSet extends Dataset {
  constructor(private readonly bytes: Buffer, meta: ParsedFileMeta, transferSyntaxUid: string) {
    super({ SOPClassUID: meta.mediaStorageSopClassUid, SOPInstanceUID: meta.mediaStorageSopInstanceUid }, transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }
}

/**
 * The file's data set re-encoded by dcmjs in another uncompressed little-endian transfer syntax (Implicit or
 * Explicit VR). dcmjs-dimse converts between them itself for 8- and 16-bit pixel data only; a BINARY SEG (1 bit)
 * for a peer that takes Implicit VR only goes this way. Values are read and written again by dcmjs, which is how
 * mipseg wrote its outputs in the first place (UTF-8 text, ISO_IR 192).
 */
export function reencodedDataSet(dataSet: P10FileDataSet, transferSyntaxUid: string): Dataset {
  const file = readFileSync(dataSet.path);
  const dict = dcmjs.data.DicomMessage.readFile(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
  dict.meta['00020010'] = { vr: 'UI', Value: [transferSyntaxUid] };
  const written = Buffer.from(dict.write());
  return new EncodedDataSet(written.subarray(readFileMetaInformation(written).dataSetOffset), dataSet.meta, transferSyntaxUid);
}
