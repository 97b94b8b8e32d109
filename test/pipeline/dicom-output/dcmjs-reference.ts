import * as dcmjs from 'dcmjs';
import {
  MIPSEG_IMPLEMENTATION_CLASS_UID, MIPSEG_IMPLEMENTATION_VERSION_NAME, TransferSyntax,
} from '@mipseg/shared/dicom';
import type { NaturalDataset } from '../../../services/worker/src/dicom-output/part10';

/**
 * The file dcmjs's own writer makes of a data set, with the File Meta Information writePart10 gives it:
 * what writePart10 returned before it encoded the bytes itself, so the reference its files must match.
 */
export function dcmjsPart10(dataset: NaturalDataset): Buffer {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const file = new DicomDict(DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: [new Uint8Array([0, 1]).buffer],
    MediaStorageSOPClassUID: dataset['SOPClassUID'],
    MediaStorageSOPInstanceUID: dataset['SOPInstanceUID'],
    TransferSyntaxUID: TransferSyntax.ExplicitVrLittleEndian,
    ImplementationClassUID: MIPSEG_IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: MIPSEG_IMPLEMENTATION_VERSION_NAME,
    _vrMap: { FileMetaInformationVersion: 'OB' },
  }));
  file.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(file.write());
}

/** The data sets (not File Meta) handed to dcmjs while `run` runs: what the result writers encode. */
export function dataSetsWritten(run: () => void): NaturalDataset[] {
  const spy = jest.spyOn(dcmjs.data.DicomMetaDictionary, 'denaturalizeDataset');
  try {
    run();
    return spy.mock.calls.map(([ds]) => ds).filter((ds) => 'SOPClassUID' in ds);
  } finally {
    spy.mockRestore();
  }
}
