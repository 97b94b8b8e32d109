import * as dcmjs from 'dcmjs';
import { newUid } from '@mipseg/shared/dicom';
import { syntheticPetInstance } from '../volume/synthetic-pet-instance';

/** In-plane size (pixels) and spacing (mm); slices are as far apart as pixels, so the volume is isotropic. */
const SIZE = 16;
const SPACING_MM = 4;
/** Stored BQML values with slope 2: about SUVbw 2 in the body and 10 in a lesion (70 kg, 350 MBq, 1 h uptake). */
const RESCALE_SLOPE = 2;
const BODY = 1700;
const LESION = 8600;

/** How a study departs from a valid one. */
export interface PetStudyVariant {
  /** Slices the series would have if none were left out or doubled. */
  readonly slices: number;
  /** Slice indices (0 = head) left out of the series. */
  readonly omit?: readonly number[];
  /** Slice indices sent a second time as another instance at the same ImagePositionPatient. */
  readonly duplicate?: readonly number[];
  /** Attributes replaced or added on every instance (keyword → value; `undefined` leaves one out). */
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** Rewrites the File Meta Information too, so the instance is stored as another SOP class (e.g. CT). */
  readonly sopClassUid?: string;
}

export interface SyntheticPetStudy {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** PS3.10 files, ready for STOW-RS. */
  readonly instances: Buffer[];
}

/** ImagePositionPatient of slice k: head first, so z falls as k rises. */
export function slicePosition(k: number): [number, number, number] {
  const edge = (-(SIZE - 1) * SPACING_MM) / 2;
  return [edge, edge, -k * SPACING_MM];
}

/** A round body with a small hot lesion in the middle slices, so that the MIP has something to segment. */
function storedValues(k: number, slices: number): number[] {
  const centre = (SIZE - 1) / 2;
  const lesionSlice = Math.abs(k - slices / 2) < 2;
  return Array.from({ length: SIZE * SIZE }, (_, i) => {
    const r = Math.hypot((i % SIZE) - centre, Math.floor(i / SIZE) - centre);
    if (lesionSlice && r < 2) return LESION;
    return r < SIZE / 2 - 1 ? BODY : 0;
  });
}

/** The same instance stored as another SOP class: Media Storage SOP Class UID must follow SOPClassUID. */
function asSopClass(bytes: Uint8Array, sopClassUid: string): Buffer {
  const file = dcmjs.data.DicomMessage.readFile(bytes.slice().buffer);
  file.meta['00020002'] = { vr: 'UI', Value: [sopClassUid] };
  file.dict['00080016'] = { vr: 'UI', Value: [sopClassUid] };
  return Buffer.from(file.write());
}

/**
 * A small single-series PET study with fresh Study/Series/SOP Instance UIDs, valid unless `variant` says
 * otherwise: written by the volume tests' dcmjs writer, one 16×16 slice per 4 mm.
 */
export function syntheticPetStudy(variant: PetStudyVariant): SyntheticPetStudy {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const attributes = { StudyInstanceUID: studyInstanceUid, FrameOfReferenceUID: newUid(), ...variant.attributes };
  const write = (k: number): Buffer => {
    const bytes = syntheticPetInstance({
      sopInstanceUid: newUid(), seriesInstanceUid, imagePositionPatient: slicePosition(k), rows: SIZE, columns: SIZE,
      pixelSpacing: [SPACING_MM, SPACING_MM], stored: storedValues(k, variant.slices), rescaleSlope: RESCALE_SLOPE,
      attributes: { ...attributes, InstanceNumber: k + 1 },
    });
    return variant.sopClassUid === undefined ? Buffer.from(bytes) : asSopClass(bytes, variant.sopClassUid);
  };
  const kept = Array.from({ length: variant.slices }, (_, k) => k).filter((k) => !variant.omit?.includes(k));
  const instances = [...kept, ...(variant.duplicate ?? [])].map(write);
  return { studyInstanceUid, seriesInstanceUid, instances };
}
