/**
 * The one catalogue of mipseg errors. Each entry has a stable code (matched by callers and tests; never
 * match on message text), the HTTP status a DICOMweb/REST client sees and, where a single instance is
 * refused, the DICOM failure reason (PS3.18 FailureReason / PS3.7 C-STORE status).
 */
export const DicomFailureReason = {
  /** 0xC000: cannot understand (not parseable DICOM, required attribute missing). */
  CannotUnderstand: 0xc000,
  /** 0x0110: processing failure. */
  ProcessingFailure: 0x0110,
  /** 0xA700: out of resources. */
  OutOfResources: 0xa700,
  /** 0xA900: data set does not match SOP class. */
  DataSetDoesNotMatchSopClass: 0xa900,
  /** 0x0122: SOP class not supported (refused SOP class). */
  SopClassNotSupported: 0x0122,
  /**
   * 0x0111: duplicate SOP instance. An N-CREATE status (PS3.7 C.4.2), not a C-STORE one (PS3.4 Table B.2-1): mipseg
   * never answers it, but other archives do, and mipseg's export reads it from a destination as "already there".
   */
  DuplicateSopInstance: 0x0111,
  /** 0xC122 (PS3.18 Table I.2-2): Referenced Transfer Syntax not supported. */
  TransferSyntaxNotSupported: 0xc122,
  /** 0xC409 (in the "cannot understand" range; dcm4chee's code): the instance is not of the URL's study. */
  StudyInstanceUidMismatch: 0xc409,
  /**
   * mipseg's own codes, in the Cxxx range a C-STORE failure may use (PS3.4 Table B.2-1) and that PS3.18 Table I.2-2
   * leaves to the conformance statement; senders treat any Cxxx as final, as these are (sending again changes nothing).
   * 0xC410: the SOP Instance UID (or its series) is stored under another series or study.
   */
  SopInstanceUidConflict: 0xc410,
  /** 0xC411: the instance's PatientID is not that of the patient its study is filed under. */
  PatientIdConflict: 0xc411,
  /** 0xC412: the instance is larger than the configured limit (MAX_INSTANCE_BYTES). */
  InstanceTooLarge: 0xc412,
} as const;

export interface ErrorDefinition {
  readonly httpStatus: number;
  readonly message: string;
  readonly failureReason?: number;
}

export const ERRORS = {
  MIPSEG_CONFIG_INVALID: { httpStatus: 500, message: 'invalid configuration: %s' },
  MIPSEG_DATA_DIR_LOCKED: { httpStatus: 500, message: 'DATA_DIR in use: %s' },
  MIPSEG_SCHEMA_NEWER: { httpStatus: 500, message: 'database from a newer release: %s' },
  MIPSEG_DATABASE_UNREADABLE: { httpStatus: 500, message: 'cannot open a database: %s' },
  MIPSEG_UNAUTHORIZED: { httpStatus: 401, message: 'authentication required' },
  MIPSEG_CROSS_ORIGIN: { httpStatus: 403, message: 'refused a request that changes data from another origin: %s' },
  MIPSEG_HOST_REFUSED: { httpStatus: 403, message: 'Host not allowed while authentication is off: %s' },
  MIPSEG_NOT_FOUND: { httpStatus: 404, message: '%s not found' },
  MIPSEG_INVALID_UID: { httpStatus: 400, message: 'invalid UID: %s' },
  MIPSEG_BAD_QUERY: { httpStatus: 400, message: 'bad query parameter: %s' },
  MIPSEG_BAD_REQUEST: { httpStatus: 400, message: 'malformed request: %s' },
  MIPSEG_NOT_ACCEPTABLE: { httpStatus: 406, message: 'cannot produce any of the accepted media types: %s' },
  MIPSEG_UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, message: 'unsupported media type: %s' },
  MIPSEG_MULTIPART_MALFORMED: { httpStatus: 400, message: 'malformed multipart body: %s' },
  // The failure reason is for an instance over MAX_INSTANCE_BYTES (STOW and C-STORE alike); the request limits fail
  // the whole request and carry none.
  MIPSEG_PAYLOAD_TOO_LARGE: {
    httpStatus: 413,
    message: 'request exceeds the configured limit: %s',
    failureReason: DicomFailureReason.InstanceTooLarge,
  },
  MIPSEG_DICOM_UNPARSEABLE: {
    httpStatus: 400,
    message: 'not a parseable DICOM instance: %s',
    failureReason: DicomFailureReason.CannotUnderstand,
  },
  // Refused at ingest: reading such a data set's metadata back would hold up every request (see sequence-depth.ts).
  MIPSEG_DICOM_SEQUENCES_TOO_DEEP: {
    httpStatus: 400,
    message: 'sequences nested too deep: %s',
    failureReason: DicomFailureReason.CannotUnderstand,
  },
  MIPSEG_DICOM_MISSING_ATTRIBUTE: {
    httpStatus: 400,
    message: 'required attribute missing or invalid: %s',
    failureReason: DicomFailureReason.CannotUnderstand,
  },
  // 409, not 400: PS3.18 10.5.3 names an unsupported SOP Class as its example of a well-formed request whose
  // instances cannot be stored (a conflict with what the server takes), as it names a study mismatch.
  MIPSEG_SOP_CLASS_NOT_SUPPORTED: {
    httpStatus: 409,
    message: 'SOP class not supported: %s',
    failureReason: DicomFailureReason.SopClassNotSupported,
  },
  MIPSEG_SOP_CLASS_MISMATCH: {
    httpStatus: 409,
    message: 'data set does not match its SOP class: %s',
    failureReason: DicomFailureReason.DataSetDoesNotMatchSopClass,
  },
  // The File Meta's MediaStorageSOPInstanceUID (by C-STORE, the Affected SOP Instance UID) is not the data set's: which
  // is the instance's cannot be told. 400 and 0xC000, as for a required UID missing: the instance contradicts itself,
  // and conflicts with nothing stored.
  MIPSEG_SOP_INSTANCE_UID_MISMATCH: {
    httpStatus: 400,
    message: 'two SOP Instance UIDs for one instance: %s',
    failureReason: DicomFailureReason.CannotUnderstand,
  },
  MIPSEG_STUDY_MISMATCH: {
    httpStatus: 409,
    message: 'instance belongs to study %s, not to the study of the request URL',
    failureReason: DicomFailureReason.StudyInstanceUidMismatch,
  },
  MIPSEG_INSTANCE_CONFLICT: {
    httpStatus: 409,
    message: 'SOP Instance UID already stored under another study or series: %s',
    failureReason: DicomFailureReason.SopInstanceUidConflict,
  },
  // A new series or instance under another patient than its study's: filed there, the study (and its result) would
  // be shown under that patient. A correction is a re-send of the same SOP Instance UIDs (a replacement).
  MIPSEG_PATIENT_MISMATCH: {
    httpStatus: 409,
    message: 'PatientID is not that of the patient the study is filed under: %s',
    failureReason: DicomFailureReason.PatientIdConflict,
  },
  // 409 as for a SOP class: a well-formed instance the server does not take (PS3.18 10.5.3).
  MIPSEG_TRANSFER_SYNTAX_NOT_SUPPORTED: {
    httpStatus: 409,
    message: 'transfer syntax not supported: %s',
    failureReason: DicomFailureReason.TransferSyntaxNotSupported,
  },
  MIPSEG_STORAGE_FULL: {
    httpStatus: 507,
    message: 'out of storage: %s',
    failureReason: DicomFailureReason.OutOfResources,
  },
  MIPSEG_STORAGE_BUSY: {
    httpStatus: 503,
    message: 'storage busy, try again later: %s',
    failureReason: DicomFailureReason.OutOfResources,
  },
  MIPSEG_STORAGE_FAILED: {
    httpStatus: 500,
    message: 'could not persist instance: %s',
    failureReason: DicomFailureReason.ProcessingFailure,
  },
  // 422, not 406: the Accept named an image type mipseg renders; what cannot be rendered is the instance, and no
  // other Accept would change that (406 sends a client to look for a media type that does not exist).
  MIPSEG_RENDER_UNSUPPORTED: { httpStatus: 422, message: 'cannot render this instance: %s' },
  MIPSEG_FRAMES_UNSUPPORTED: { httpStatus: 406, message: 'compressed pixel data is not decoded for clients: %s' },
  MIPSEG_VOLUME_INVALID: { httpStatus: 422, message: 'PET series does not form one regular volume: %s' },
  MIPSEG_VOLUME_UNSUPPORTED: { httpStatus: 422, message: 'PET series cannot be decoded or projected by mipseg: %s' },
  MIPSEG_SUV_UNAVAILABLE: { httpStatus: 422, message: 'SUV cannot be computed for this PET series: %s' },
  MIPSEG_AE_TITLE_REFUSED: { httpStatus: 403, message: 'AE title not accepted: %s' },
  MIPSEG_INSECURE_DIMSE_BIND: {
    httpStatus: 500,
    message: 'refusing to accept C-STORE from any calling AE title on %s; set DIMSE_ALLOWED_AE_TITLES (AE or AE@address), DIMSE_ENABLED=false, or pass --insecure',
  },
  MIPSEG_INSECURE_BIND: {
    httpStatus: 500,
    message: 'refusing to listen on %s without authentication; configure AUTH_TOKENS or pass --insecure',
  },
  MIPSEG_MODEL_INVALID: { httpStatus: 500, message: 'model manifest or file invalid: %s' },
  MIPSEG_IMAGE_INVALID: { httpStatus: 400, message: 'image not usable: %s' },
  MIPSEG_SOURCE_SERIES_INVALID: { httpStatus: 400, message: 'source series cannot be used for a MIP result: %s' },
  MIPSEG_DICOM_OUTPUT_INVALID: { httpStatus: 500, message: 'cannot write the derived DICOM instance: %s' },
  MIPSEG_SEG_UNSUPPORTED: { httpStatus: 400, message: 'segmentation cannot be read as a binary mask: %s' },
  MIPSEG_NOT_APPLICABLE: { httpStatus: 422, message: 'no series of the study can be analysed: %s' },
  MIPSEG_EXPORT_REFUSED: { httpStatus: 502, message: 'the destination refused the result: %s' },
  MIPSEG_DESTINATION_UNAVAILABLE: { httpStatus: 503, message: 'the destination did not take the instances now: %s' },
  MIPSEG_BUSY: { httpStatus: 503, message: 'too busy, try again later: %s' },
  MIPSEG_QUEUE_UNAVAILABLE: { httpStatus: 503, message: 'the job queue cannot be reached: %s' },
  MIPSEG_DELETE_DISABLED: { httpStatus: 405, message: 'deleting studies is not enabled: %s' },
  MIPSEG_STUDY_BUSY: { httpStatus: 409, message: 'the study cannot be deleted now: %s' },
  MIPSEG_EXPORT_NOT_FAILED: { httpStatus: 409, message: 'only a failed export is sent again on request: %s' },
  MIPSEG_INTERNAL: { httpStatus: 500, message: 'internal error: %s' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERRORS;
