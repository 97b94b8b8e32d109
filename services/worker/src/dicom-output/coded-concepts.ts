import type { CodedConcept } from './dicom-values';

/** Coded concepts mipseg writes (PS3.16), by meaning. SCT rather than the retired SRT scheme. */
export const Concept = {
  /** CID 7202 purpose of reference for a derivation source. */
  sourceImageForImageProcessing: { value: '121322', scheme: 'DCM', meaning: 'Source image for image processing operation' },
  /** CID 7203 image derivation. */
  maximumIntensityProjection: { value: '113078', scheme: 'DCM', meaning: 'Maximum intensity projection' },
  segmentation: { value: '113076', scheme: 'DCM', meaning: 'Segmentation' },
  /** CID 7005 contributing equipment purposes of reference. */
  acquisitionEquipment: { value: '109101', scheme: 'DCM', meaning: 'Acquisition Equipment' },
  processingEquipment: { value: '109102', scheme: 'DCM', meaning: 'Processing Equipment' },
  /** CID 7162 algorithm family. */
  artificialIntelligence: { value: '123110', scheme: 'DCM', meaning: 'Artificial Intelligence' },
  /** CID 7150 / 7151 segmented property category and type. */
  morphologicallyAbnormalStructure: { value: '49755003', scheme: 'SCT', meaning: 'Morphologically abnormal structure' },
  neoplasm: { value: '108369006', scheme: 'SCT', meaning: 'Neoplasm' },
  /** Real World Value Mapping of SUVbw (CID 85 units, CID 7180 quantity, CID 7181 method). */
  suvBodyWeightUnits: { value: '{SUVbw}g/ml', scheme: 'UCUM', meaning: 'Standardized Uptake Value body weight' },
  quantity: { value: '246205007', scheme: 'SCT', meaning: 'Quantity' },
  standardizedUptakeValue: { value: '126400', scheme: 'DCM', meaning: 'Standardized Uptake Value' },
  measurementMethod: { value: '370129005', scheme: 'SCT', meaning: 'Measurement Method' },
  suvBodyWeightMethod: { value: '126410', scheme: 'DCM', meaning: 'SUV body weight calculation method' },
} as const satisfies Record<string, CodedConcept>;
