import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Dataset } from 'dcmjs-dimse';
import { readFileMetaInformation, type ParsedFileMeta } from '@mipseg/shared/dicom';

// The File Meta Information of any real file fits in this; a longer one is refused as truncated.
const META_PROBE_BYTES = 64 * 1024;

/** Reads just the File Meta Information of a PS3.10 file. */
export async function readFileMeta(path: string): Promise<ParsedFileMeta> {
  const handle = await open(path, 'r');
  try {
    const probe = Buffer.alloc(META_PROBE_BYTES);
    const { bytesRead } = await handle.read(probe, 0, probe.length, 0);
    return readFileMetaInformation(probe.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
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
