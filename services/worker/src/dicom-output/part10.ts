import * as dcmjs from 'dcmjs';
import {
  MIPSEG_IMPLEMENTATION_CLASS_UID,
  MIPSEG_IMPLEMENTATION_VERSION_NAME,
  TransferSyntax,
} from '@mipseg/shared/dicom';
import { ByteSink } from './byte-sink';
import { encodeDataSet, writeDataSet } from './encode-data-set';

/**
 * A data set keyed by PS3.6 keyword, values as dcmjs naturalises them; `_vrMap` names the VR of Pixel Data
 * (OB or OW). Typed loosely because it is handed straight to dcmjs, which has no types of its own.
 */
export type NaturalDataset = Record<string, unknown>;

const PREAMBLE_AND_PREFIX = 132;

/**
 * Encodes a data set as a PS3.10 file in Explicit VR Little Endian, with mipseg's File Meta Information.
 * dcmjs turns keywords into tags and VRs (denaturalizeDataset); the bytes are written by encodeDataSet,
 * which writes what dcmjs's writer would, without its cost per element.
 */
export function writePart10(dataset: NaturalDataset): Buffer {
  const { DicomMetaDictionary } = dcmjs.data;
  const meta = encodeDataSet(DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: [new Uint8Array([0, 1]).buffer],
    MediaStorageSOPClassUID: dataset['SOPClassUID'],
    MediaStorageSOPInstanceUID: dataset['SOPInstanceUID'],
    TransferSyntaxUID: TransferSyntax.ExplicitVrLittleEndian,
    ImplementationClassUID: MIPSEG_IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: MIPSEG_IMPLEMENTATION_VERSION_NAME,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  }));
  const file = new ByteSink(PREAMBLE_AND_PREFIX + meta.length + 64 * 1024);
  file.bytes(new Uint8Array(128));
  file.latin1('DICM');
  writeDataSet(file, { '00020000': { vr: 'UL', Value: [meta.length] } });
  file.bytes(meta);
  writeDataSet(file, DicomMetaDictionary.denaturalizeDataset(dataset));
  // A buffer of its own, exactly the file: a result moves from its analysis thread without another copy.
  return Buffer.from(file.written().slice().buffer);
}
