import { newUid } from '@mipseg/shared/dicom';
import { readPetSeriesHeader, selectPetSeries } from '../../services/worker/src/selection';
import { buildDoseSr } from '../support/dose-sr';

describe('series selection over the radiation dose SR a scanner sends', () => {
  test('reads each dose SR header (Modality SR, its SOP class) and calls a study of dose SR only not applicable', () => {
    const studyInstanceUid = newUid();
    const reports = [buildDoseSr('radiopharmaceutical', { studyInstanceUid }), buildDoseSr('x-ray', { studyInstanceUid })];
    const candidates = reports.map((r) => ({ header: readPetSeriesHeader(r.bytes), instanceCount: 1 }));
    expect(candidates.map((c) => [c.header.seriesInstanceUid, c.header.modality, c.header.sopClassUid]))
      .toEqual(reports.map((r) => [r.seriesInstanceUid, 'SR', r.sopClassUid]));
    const selection = selectPetSeries(candidates);
    expect(selection.status).toBe('not-applicable');
    for (const r of reports) {
      // Both are series 900, without a description: their UIDs tell them apart.
      expect(selection.status === 'not-applicable' && selection.reason).toContain(`Series 900 (${r.seriesInstanceUid}): Modality is SR`);
    }
  });
});
