import { syntheticPetInstance } from '../pipeline/dicom-output/synthetic-source';
import { insertedBefore } from './explicit-elements';

/**
 * A PET instance dicom-parser gives up on: a sequence of undefined length before Patient's Name whose first item tag
 * is (0201,0403), not (FFFE,E000). dicom-parser then throws { exception, dataSet }, the data set holding the whole file.
 */
export function unparseablePetInstance(sopInstanceUid: string): Buffer {
  const badSequence = Buffer.from([0x08, 0x00, 0x15, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x10, 0, 0, 0]);
  return insertedBefore(syntheticPetInstance({ sopInstanceUid }), 0x0010, 0x0010, badSequence);
}
