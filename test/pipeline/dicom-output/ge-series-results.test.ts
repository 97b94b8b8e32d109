import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelManifest } from '@mipseg/shared/inference';
import {
  algorithmFromManifest, readSegMask, readSourceSeriesContext, writeMipInstance, writeSegInstance,
  type RenderedMip, type SourceSeriesContext,
} from '../../../services/worker/src/dicom-output';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { MODEL_DIR } from '../../model/model-test-support';
import { dciodvfy } from '../../support/dicom-tools';
import { EQUIPMENT, readNatural } from './synthetic-source';

const SERIES = 'data/pet-dicom/ge-discovery-st-wholebody';

/**
 * A MIP on the GE series' own grid (128 columns of 4.6875 mm from x = -297.65625; 267 slices of 3.27 mm):
 * the values are synthetic, the geometry and every copied attribute are the real series'.
 */
function mipOnGeGrid(): RenderedMip {
  const width = 128;
  const height = 267;
  const suv = Float32Array.from({ length: width * height }, (_, i) => 0.5 + ((i * 7919) % 1000) / 100);
  return {
    width, height, suv,
    pixelSpacingMm: [3.27, 4.6875],
    imagePositionPatient: [-297.65625, 0, -11.479994],
    imageOrientationPatient: [1, 0, 0, 0, 0, -1],
    sliceThicknessMm: 600,
  };
}

describeWithSharedData(SERIES)('results for the real GE whole-body series (TCIA STS_001)', () => {
  let source: SourceSeriesContext;
  let dir: string;

  beforeAll(() => {
    const seriesDir = sharedData(SERIES).path;
    source = readSourceSeriesContext(readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).sort()
      .map((f) => readFileSync(join(seriesDir, f))));
    dir = mkdtempSync(join(tmpdir(), 'mipseg-ge-results-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('reads the series: 267 instances, six bed positions (so no single decay factor), BQML', () => {
    expect(source.instances).toHaveLength(267);
    expect(source.Units).toBe('BQML');
    expect(source.DecayCorrection).toBe('START');
    expect(source.DecayFactor).toBeNull();
    expect(source.PatientWeight).toBe(71);
    expect(source.PatientIdentityRemoved).toBe('YES');
  });

  test('the MIP and SEG written from it validate with zero dciodvfy errors and keep its study and scanner', async () => {
    const algorithm = algorithmFromManifest(await readModelManifest(MODEL_DIR));
    const mip = mipOnGeGrid();
    const mipOut = writeMipInstance(mip, source, { equipment: EQUIPMENT });
    const mask = Uint8Array.from(mip.suv, (v) => (v > 9 ? 1 : 0));
    const segOut = writeSegInstance(mask, { ...mipOut, geometry: mip }, source, { equipment: EQUIPMENT, algorithm });
    writeFileSync(join(dir, 'mip.dcm'), mipOut.bytes);
    writeFileSync(join(dir, 'seg.dcm'), segOut.bytes);
    expect(dciodvfy(join(dir, 'mip.dcm')).errors).toEqual([]);
    expect(dciodvfy(join(dir, 'seg.dcm')).errors).toEqual([]);

    const mipDs = readNatural(mipOut.bytes);
    expect(mipDs['StudyInstanceUID']).toBe(source.StudyInstanceUID);
    expect(mipDs['ReferencedSeriesSequence'][0]['ReferencedInstanceSequence']).toHaveLength(267);
    expect(mipDs['ContributingEquipmentSequence'][0]['ManufacturerModelName']).toBe('Discovery ST');
    expect(mipDs['RadiopharmaceuticalInformationSequence'][0]['RadionuclideTotalDose']).toBe(388777472);
    const segment = readNatural(segOut.bytes)['SegmentSequence'][0];
    expect(segment['SegmentAlgorithmName']).toBe('mip-attention-unet');
    expect(segment['SegmentationAlgorithmIdentificationSequence'][0]['AlgorithmVersion']).toBe(algorithm.version);
    expect(Buffer.from(readSegMask(segOut.bytes).mask).equals(Buffer.from(mask))).toBe(true);
  });
});
