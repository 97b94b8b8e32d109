import { assembleSuvVolume, type SuvVolume } from '../../../services/worker/src/suv';
import {
  decodeSliceInto,
  parseInstance,
  pixelDataSource,
  readNumbers,
  readSliceHeader,
  type PetVolume,
} from '../../../services/worker/src/volume';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { GE_SERIES, GE_SUV_REFERENCE, readDicomFolder } from './ge-series-files';

interface ReferenceSlice {
  readonly position: readonly number[];
  readonly rows: number;
  readonly columns: number;
  readonly suv: Float32Array;
}

/** The reference crop, decoded by the same decoder (its values are GML, i.e. already SUVbw). */
function readReference(): ReferenceSlice[] {
  return readDicomFolder(sharedData(GE_SUV_REFERENCE).path).map((bytes) => {
    const ds = parseInstance(bytes);
    const header = readSliceHeader(ds);
    const suv = new Float32Array(header.rows * header.columns);
    decodeSliceInto(pixelDataSource(ds), header, suv);
    return { position: readNumbers(ds, '00200032') ?? [], rows: header.rows, columns: header.columns, suv };
  });
}

/** Largest |ours - reference| over every reference voxel, matching slices and pixels by patient position. */
function maxDifference(volume: PetVolume, reference: readonly ReferenceSlice[]): { max: number; voxels: number } {
  const [dy, dx] = volume.pixelSpacing;
  let max = 0;
  let voxels = 0;
  for (const ref of reference) {
    const [x = 0, y = 0, z = 0] = ref.position;
    const k = Math.round((z - volume.origin[2]) / volume.sliceSpacing);
    const i0 = Math.round((x - volume.origin[0]) / dx);
    const j0 = Math.round((y - volume.origin[1]) / dy);
    expect(Math.abs(volume.origin[2] + k * volume.sliceSpacing - z)).toBeLessThan(0.01);
    for (let j = 0; j < ref.rows; j++) {
      for (let i = 0; i < ref.columns; i++) {
        const ours = volume.voxels[(k * volume.rows + j0 + j) * volume.columns + i0 + i] as number;
        max = Math.max(max, Math.abs(ours - (ref.suv[j * ref.columns + i] as number)));
        voxels++;
      }
    }
  }
  return { max, voxels };
}

describeWithSharedData(GE_SERIES)('GE Discovery ST whole-body series to SUVbw', () => {
  let distinctSlopes: number;
  let conversion: SuvVolume;

  beforeAll(() => {
    const bytes = readDicomFolder(sharedData(GE_SERIES).path);
    distinctSlopes = new Set(bytes.map((b) => readSliceHeader(parseInstance(b)).rescaleSlope)).size;
    conversion = assembleSuvVolume(bytes);
  });

  test('assembles 267 slices of 128 x 128, 3.27 mm apart, feet to head', () => {
    const { volume } = conversion;
    expect([volume.columns, volume.rows, volume.slices]).toEqual([128, 128, 267]);
    expect(volume.sliceSpacing).toBeCloseTo(3.27, 4);
    expect(volume.sliceDirection).toEqual([0, 0, 1]);
    expect(volume.origin).toEqual([-297.65625, -297.65625, -881.3]);
    expect(volume.instances).toHaveLength(267);
    expect(distinctSlopes).toBeGreaterThan(250);
  });

  test('one SUVbw factor for the series: weight / dose decayed from 10:35:00 to the series start 11:20:11', () => {
    const expected = 71_000 / (388_777_472 * 2 ** (-2711 / 6588));
    expect(new Set(conversion.scaleFactors).size).toBe(1);
    expect((conversion.scaleFactors[0] as number) / expected).toBeCloseTo(1, 9);
    expect(conversion.volume.valueUnits).toBe('SUVbw');
  });

  describeWithSharedData(GE_SUV_REFERENCE)('against the independent SUV reference crop', () => {
    test('every voxel of the 43 x 41 x 59 crop agrees within 0.001 SUV', () => {
      const { max, voxels } = maxDifference(conversion.volume, readReference());
      expect(voxels).toBe(43 * 41 * 59);
      expect(max).toBeLessThan(0.001);
    });
  });
});
