import * as dcmjs from 'dcmjs';
import { MipsegError } from '@mipseg/shared/errors';
import {
  MIPSEG_IMPLEMENTATION_CLASS_UID,
  MIPSEG_IMPLEMENTATION_VERSION_NAME,
  TransferSyntax,
} from '@mipseg/shared/dicom';

/**
 * A data set keyed by PS3.6 keyword, values as dcmjs naturalises them; `_vrMap` names the VR of Pixel Data
 * (OB or OW). Typed loosely because it is handed straight to dcmjs, which has no types of its own.
 */
export type NaturalDataset = Record<string, unknown>;

/** Encodes a data set as a PS3.10 file in Explicit VR Little Endian, with mipseg's File Meta Information. */
export function writePart10(dataset: NaturalDataset): Buffer {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: [new Uint8Array([0, 1]).buffer],
    MediaStorageSOPClassUID: dataset['SOPClassUID'],
    MediaStorageSOPInstanceUID: dataset['SOPInstanceUID'],
    TransferSyntaxUID: TransferSyntax.ExplicitVrLittleEndian,
    ImplementationClassUID: MIPSEG_IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: MIPSEG_IMPLEMENTATION_VERSION_NAME,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  });
  const file = new DicomDict(meta);
  try {
    file.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
    return Buffer.from(file.write());
  } catch (err) {
    // What mipseg writes itself is formatted to its VR; a value the writer refuses as too long was copied from the
    // source, and writing it again will not succeed: not retried. Any other failure is a fault of ours. dcmjs refuses
    // only the VRs it counts in bytes (CS, DS, DA, …): SH, LO, ST and LT it writes at any length, so the writers fit
    // those first (fitTextToVrs).
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith('Value exceeds max length')) {
      throw new MipsegError('MIPSEG_SOURCE_SERIES_INVALID', `a value copied from it cannot be written: ${message}`, { cause: err });
    }
    throw err;
  }
}
