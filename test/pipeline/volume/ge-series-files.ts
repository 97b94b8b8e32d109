import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const GE_SERIES = 'data/pet-dicom/ge-discovery-st-wholebody';
export const GE_SUV_REFERENCE = 'data/pet-dicom/ge-suv-reference';
export const GE_GTV_RTSTRUCT = 'data/pet-dicom/ge-suv-reference-gtv-rtstruct.dcm';

/** The PS3.10 files of a folder, by name. */
export function readDicomFolder(dir: string): Uint8Array[] {
  return readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => new Uint8Array(readFileSync(join(dir, f))));
}
