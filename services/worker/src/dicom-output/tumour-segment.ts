import { MIPSEG_MANUFACTURER } from '@mipseg/shared/dicom';
import { Concept } from './coded-concepts';
import { codeItem } from './dicom-values';
import type { DicomItem } from './source-series-context';
import type { AlgorithmIdentity } from './write-options';

export const TUMOUR_SEGMENT_NUMBER = 1;
export const DEFAULT_SEGMENT_LABEL = 'FDG-avid tumour';
/** sRGB (255, 64, 0) in DICOM-scaled CIELab (PS3.3 C.10.7.1.1): an orange-red that reads on a grey MIP. */
export const TUMOUR_CIELAB = [37358, 50727, 50556] as const;

/** The one SegmentSequence item: an automatic neoplasm segmentation by the named AI model (C.8.20.2). */
export function tumourSegmentItem(algorithm: AlgorithmIdentity, label: string): DicomItem {
  return {
    SegmentNumber: TUMOUR_SEGMENT_NUMBER,
    SegmentLabel: label,
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: algorithm.name,
    SegmentationAlgorithmIdentificationSequence: [{
      AlgorithmFamilyCodeSequence: [codeItem(Concept.artificialIntelligence)],
      AlgorithmName: algorithm.name,
      AlgorithmVersion: algorithm.version,
      AlgorithmParameters: algorithm.description,
      AlgorithmSource: MIPSEG_MANUFACTURER,
    }],
    SegmentedPropertyCategoryCodeSequence: [codeItem(Concept.morphologicallyAbnormalStructure)],
    SegmentedPropertyTypeCodeSequence: [codeItem(Concept.neoplasm)],
    RecommendedDisplayCIELabValue: [...TUMOUR_CIELAB],
  };
}
