/**
 * A data set item as dcmjs naturalises it (keyword-keyed). Source sequences such as
 * RadiopharmaceuticalInformationSequence are carried through unchanged, so their items stay in this form.
 */
export type DicomItem = Readonly<Record<string, unknown>>;

/** One instance of the source series, as a derived instance references it. */
export interface SourceInstanceRef {
  readonly SOPClassUID: string;
  readonly SOPInstanceUID: string;
}

/**
 * What mipseg's results copy from the source PET series: the Patient, General Study, Frame of Reference and
 * PET attributes, and the source instances to reference. Property names are the PS3.6 keywords; text is ''
 * and numbers null where the source has no value (Type 2 attributes are then written empty).
 */
export interface SourceSeriesContext {
  readonly PatientName: string;
  readonly PatientID: string;
  readonly IssuerOfPatientID: string;
  readonly PatientBirthDate: string;
  readonly PatientSex: string;
  readonly PatientAge: string;
  readonly PatientSize: number | null;
  readonly PatientWeight: number | null;
  /** 'YES' where the source was de-identified: the results must say so too. */
  readonly PatientIdentityRemoved: string;

  readonly StudyInstanceUID: string;
  readonly StudyDate: string;
  readonly StudyTime: string;
  readonly StudyID: string;
  readonly AccessionNumber: string;
  readonly ReferringPhysicianName: string;
  readonly StudyDescription: string;
  readonly TimezoneOffsetFromUTC: string;
  /**
   * Type 3 Patient and General Study attributes a PACS or patient index matches on (issuers, other IDs,
   * de-identification codes), copied as the source has them; only those present with a value.
   */
  readonly carriedPatientAndStudy: DicomItem;

  readonly SeriesInstanceUID: string;
  /**
   * The source series' SeriesNumber (null where it has none), which the results' descriptions name: a study can have
   * several PET series analysed (early and delayed scans), and a PACS user must tell whose MIP and SEG are whose.
   */
  readonly SeriesNumber: number | null;
  readonly Modality: string;
  /** PET Series SeriesDate/SeriesTime: the reference time of decay correction (START), so results keep them. */
  readonly SeriesDate: string;
  readonly SeriesTime: string;
  readonly FrameOfReferenceUID: string;
  readonly PositionReferenceIndicator: string;

  /** The scanner's General Equipment, kept as the results' Acquisition Equipment (Contributing Equipment). */
  readonly Manufacturer: string;
  readonly ManufacturerModelName: string;
  readonly DeviceSerialNumber: string;
  readonly SoftwareVersions: string;

  /** Units of the source pixel values (BQML, CNTS, GML…); mipseg's MIP is always GML (SUVbw). */
  readonly Units: string;
  readonly CountsSource: string;
  readonly SeriesType: readonly string[];
  readonly CorrectedImage: readonly string[];
  readonly DecayCorrection: string;
  readonly AttenuationCorrectionMethod: string;
  readonly ReconstructionMethod: string;
  readonly CollimatorType: string;
  /** The earliest AcquisitionDate/AcquisitionTime of the source instances. */
  readonly AcquisitionDate: string;
  readonly AcquisitionTime: string;
  /** Per-image PET values: the shared value when every source instance has the same one, else null. */
  readonly DecayFactor: number | null;
  readonly FrameReferenceTime: number | null;
  readonly ActualFrameDuration: number | null;
  readonly RadiopharmaceuticalInformationSequence: readonly DicomItem[];
  readonly PatientOrientationCodeSequence: readonly DicomItem[];
  readonly PatientGantryRelationshipCodeSequence: readonly DicomItem[];
  /**
   * '01' when any source instance was lossy compressed (PS3.3 C.7.6.1.1.5: a derived image inherits it and it
   * is never reset), else ''; the ratio and method as the source states them.
   */
  readonly LossyImageCompression: '01' | '';
  readonly LossyImageCompressionRatio: readonly string[];
  readonly LossyImageCompressionMethod: readonly string[];

  /** Every source instance once, in the order given. */
  readonly instances: readonly SourceInstanceRef[];
}
