import { isMipsegError } from '@mipseg/shared/errors';
import { assemblePetVolume, type PetVolume } from '../../../services/worker/src/volume';
import { syntheticPetInstance, type SyntheticPetSlice } from './synthetic-pet-instance';

/** Slice k at z = 10 + 3k with a single non-zero stored value 100 + k at (column 1, row 2) and slope k + 1. */
const slices = (count: number, at: (k: number) => number = (k) => 10 + 3 * k): SyntheticPetSlice[] =>
  Array.from({ length: count }, (_, k) => ({
    sopInstanceUid: `2.25.71${k}`,
    imagePositionPatient: [-6, -6, at(k)] as const,
    stored: Array.from({ length: 16 }, (_, i) => (i === 2 * 4 + 1 ? 100 + k : 0)),
    rescaleSlope: k + 1,
  }));

const voxel = (v: PetVolume, i: number, j: number, k: number): number =>
  v.voxels[(k * v.rows + j) * v.columns + i] as number;

function code(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (isMipsegError(err)) return `${err.code}: ${err.detail}`;
    throw err;
  }
  return 'accepted';
}

describe('assemblePetVolume (synthetic slices written by dcmjs)', () => {
  test('stacks slices given in any order and applies each slice its own RescaleSlope', () => {
    const given = slices(4);
    const volume = assemblePetVolume([2, 0, 3, 1].map((k) => syntheticPetInstance(given[k] as SyntheticPetSlice)));
    expect([volume.columns, volume.rows, volume.slices]).toEqual([4, 4, 4]);
    expect(volume.instances.map((r) => r.sopInstanceUid)).toEqual(given.map((s) => s.sopInstanceUid));
    for (let k = 0; k < 4; k++) expect(voxel(volume, 1, 2, k)).toBe((100 + k) * (k + 1));
    expect(voxel(volume, 2, 1, 0)).toBe(0);
    expect(volume.origin).toEqual([-6, -6, 10]);
    expect(volume.sliceSpacing).toBeCloseTo(3, 6);
    expect(volume.pixelSpacing).toEqual([4, 4]);
    expect(volume.valueUnits).toBe('BQML');
    expect(volume.source).toMatchObject({ patientId: 'SYN-1', studyInstanceUid: '2.25.700', modality: 'PT' });
  });

  test('refuses a series with a missing slice, naming where it should be', () => {
    const given = slices(5).filter((_, k) => k !== 2);
    expect(code(() => assemblePetVolume(given.map(syntheticPetInstance))))
      .toMatch(/^MIPSEG_VOLUME_INVALID: gap: 1 slice\(s\) missing .* \(-6\.00, -6\.00, 16\.00\)/);
  });

  test('refuses a multi-frame instance as unsupported', () => {
    const given = slices(2).map((s) => ({ ...s, numberOfFrames: 2 }));
    expect(code(() => assemblePetVolume(given.map(syntheticPetInstance)))).toMatch(/^MIPSEG_VOLUME_UNSUPPORTED: .*2 frames/);
  });

  test('refuses slices without ImagePositionPatient, naming the attribute', () => {
    const given = slices(2).map((s) => syntheticPetInstance({ ...s, attributes: { ImagePositionPatient: undefined } }));
    expect(code(() => assemblePetVolume(given))).toMatch(/^MIPSEG_VOLUME_INVALID: .*ImagePositionPatient \(0020,0032\)/);
  });

  test('refuses a slice whose RescaleSlope is missing, unreadable or 0, naming the instance, rather than taking it as 1', () => {
    for (const slope of [undefined, '3,27E-5', '0']) {
      const given = slices(3).map((s, k) => syntheticPetInstance(k === 1 ? { ...s, attributes: { RescaleSlope: slope } } : s));
      expect(code(() => assemblePetVolume(given))).toMatch(/^MIPSEG_VOLUME_INVALID: instance 2\.25\.711 .*RescaleSlope \(0028,1053\)/);
    }
  });

  test('refuses a negative RescaleSlope (every activity negative: a blank MIP read as "no lesion"), naming the instance', () => {
    const given = slices(3).map((s, k) => syntheticPetInstance(k === 1 ? { ...s, attributes: { RescaleSlope: '-1.714' } } : s));
    expect(code(() => assemblePetVolume(given))).toMatch(/^MIPSEG_VOLUME_INVALID: instance 2\.25\.711 has a RescaleSlope \(0028,1053\) of -1\.714: PET activity needs a positive one/);
  });

  test('refuses a PixelSpacing of 0 or below (a division by zero in the MIP, a mirrored geometry), naming the instance', () => {
    for (const spacing of ['0\\0', '-4.69\\-4.69', '4\\0']) {
      const given = slices(3).map((s, k) => syntheticPetInstance(k === 1 ? { ...s, attributes: { PixelSpacing: spacing.split('\\') } } : s));
      expect([spacing, code(() => assemblePetVolume(given))]).toEqual([spacing,
        expect.stringMatching(/^MIPSEG_VOLUME_INVALID: instance 2\.25\.711 has a PixelSpacing \(0028,0030\) of .*: both must be positive/)]);
    }
  });

  test('takes an absent RescaleIntercept as 0 but refuses an unreadable one', () => {
    const absent = slices(2).map((s) => syntheticPetInstance({ ...s, attributes: { RescaleIntercept: undefined } }));
    expect(voxel(assemblePetVolume(absent), 1, 2, 1)).toBe(101 * 2);
    const unreadable = slices(2).map((s) => syntheticPetInstance({ ...s, attributes: { RescaleIntercept: 'zero' } }));
    expect(code(() => assemblePetVolume(unreadable))).toMatch(/^MIPSEG_VOLUME_INVALID: .*RescaleIntercept \(0028,1052\)/);
  });

  test('refuses an instance without Pixel Data', () => {
    const given = slices(2).map((s) => syntheticPetInstance({ ...s, attributes: { PixelData: undefined } }));
    expect(code(() => assemblePetVolume(given))).toMatch(/^MIPSEG_VOLUME_INVALID: .*no Pixel Data/);
  });

  test('refuses a series whose slices disagree on Units', () => {
    const given = slices(2);
    const bytes = [syntheticPetInstance(given[0] as SyntheticPetSlice),
      syntheticPetInstance({ ...(given[1] as SyntheticPetSlice), attributes: { Units: 'CNTS' } })];
    expect(code(() => assemblePetVolume(bytes))).toMatch(/^MIPSEG_VOLUME_INVALID: .*Units/);
  });
});
