/**
 * Storage SOP classes mipseg accepts (STOW-RS and C-STORE): PET, CT, MR for fusion, the
 * scanners' SR documents (dose reports included), and derived results.
 */
export const SopClass = {
  PositronEmissionTomographyImageStorage: '1.2.840.10008.5.1.4.1.1.128',
  EnhancedPetImageStorage: '1.2.840.10008.5.1.4.1.1.130',
  LegacyConvertedEnhancedPetImageStorage: '1.2.840.10008.5.1.4.1.1.128.1',
  CtImageStorage: '1.2.840.10008.5.1.4.1.1.2',
  EnhancedCtImageStorage: '1.2.840.10008.5.1.4.1.1.2.1',
  LegacyConvertedEnhancedCtImageStorage: '1.2.840.10008.5.1.4.1.1.2.2',
  MrImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  SecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7',
  SegmentationStorage: '1.2.840.10008.5.1.4.1.1.66.4',
  RealWorldValueMappingStorage: '1.2.840.10008.5.1.4.1.1.67',
  BasicTextSrStorage: '1.2.840.10008.5.1.4.1.1.88.11',
  EnhancedSrStorage: '1.2.840.10008.5.1.4.1.1.88.22',
  ComprehensiveSrStorage: '1.2.840.10008.5.1.4.1.1.88.33',
  Comprehensive3dSrStorage: '1.2.840.10008.5.1.4.1.1.88.34',
  KeyObjectSelectionDocumentStorage: '1.2.840.10008.5.1.4.1.1.88.59',
  // Dose reports ride with almost every PET/CT study (the CT dose and the injected activity); refusing them
  // fails the sender's transfer of the whole study, which PACS auto-routing reports as an error and retries.
  XRayRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.67',
  RadiopharmaceuticalRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.68',
  // The successor of X-Ray Radiation Dose SR: newer CT software sends its dose report in it.
  EnhancedXRayRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.76',
  RtStructureSetStorage: '1.2.840.10008.5.1.4.1.1.481.3',
  // What else a PET/CT study holds, which a router sends with it: a refused presentation context fails its whole
  // transfer. Stored and served; the pipeline reads none of them.
  SpatialRegistrationStorage: '1.2.840.10008.5.1.4.1.1.66.1',
  DeformableSpatialRegistrationStorage: '1.2.840.10008.5.1.4.1.1.66.3',
  RawDataStorage: '1.2.840.10008.5.1.4.1.1.66',
  GrayscaleSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.1',
  ColorSoftcopyPresentationStateStorage: '1.2.840.10008.5.1.4.1.1.11.2',
  EncapsulatedPdfStorage: '1.2.840.10008.5.1.4.1.1.104.1',
  MultiFrameSingleBitSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.1',
  MultiFrameGrayscaleByteSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.2',
  MultiFrameGrayscaleWordSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.3',
  MultiFrameTrueColorSecondaryCaptureImageStorage: '1.2.840.10008.5.1.4.1.1.7.4',
  ExtensibleSrStorage: '1.2.840.10008.5.1.4.1.1.88.35',
  PatientRadiationDoseSrStorage: '1.2.840.10008.5.1.4.1.1.88.73',
  // Siemens scanners' private non-image objects (raw data, protocols), sent with their studies.
  SiemensCsaNonImageStorage: '1.3.12.2.1107.5.9.1',
} as const;

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

/** The accepted SOP classes whose instances must carry pixel data (the image ones). */
export const IMAGE_SOP_CLASSES: ReadonlySet<string> = new Set<string>([
  SopClass.PositronEmissionTomographyImageStorage, SopClass.EnhancedPetImageStorage, SopClass.LegacyConvertedEnhancedPetImageStorage,
  SopClass.CtImageStorage, SopClass.EnhancedCtImageStorage, SopClass.LegacyConvertedEnhancedCtImageStorage, SopClass.MrImageStorage,
  SopClass.SecondaryCaptureImageStorage, SopClass.SegmentationStorage,
  SopClass.MultiFrameSingleBitSecondaryCaptureImageStorage, SopClass.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
  SopClass.MultiFrameGrayscaleWordSecondaryCaptureImageStorage, SopClass.MultiFrameTrueColorSecondaryCaptureImageStorage,
]);

const SUPPORTED = new Set<string>(Object.values(SopClass));

export function isSupportedStorageSopClass(uid: string): boolean {
  return SUPPORTED.has(uid);
}

/**
 * The modality a SOP class implies, used to catch data sets that do not match their SOP class. The SR classes
 * are left out on purpose: SR documents from scanners are accepted with whatever Modality they carry (SR,
 * by the standard), as refusing a dose report fails the sender's whole study for no gain to mipseg.
 */
export const MODALITIES_BY_SOP_CLASS: Readonly<Record<string, readonly string[]>> = {
  [SopClass.PositronEmissionTomographyImageStorage]: ['PT'],
  [SopClass.EnhancedPetImageStorage]: ['PT'],
  [SopClass.LegacyConvertedEnhancedPetImageStorage]: ['PT'],
  [SopClass.CtImageStorage]: ['CT'],
  [SopClass.EnhancedCtImageStorage]: ['CT'],
  [SopClass.LegacyConvertedEnhancedCtImageStorage]: ['CT'],
  [SopClass.MrImageStorage]: ['MR'],
  [SopClass.SegmentationStorage]: ['SEG'],
  [SopClass.RtStructureSetStorage]: ['RTSTRUCT'],
  [SopClass.SpatialRegistrationStorage]: ['REG'],
  [SopClass.DeformableSpatialRegistrationStorage]: ['REG'],
  [SopClass.GrayscaleSoftcopyPresentationStateStorage]: ['PR'],
  [SopClass.ColorSoftcopyPresentationStateStorage]: ['PR'],
};
