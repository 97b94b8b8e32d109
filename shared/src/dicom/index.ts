export { isValidUid, assertUid } from './uid';
export { IMAGE_SOP_CLASSES, SopClass, VERIFICATION_SOP_CLASS, isSupportedStorageSopClass } from './sop-classes';
export { TransferSyntax, isUncompressed } from './transfer-syntaxes';
export { INDEXED_ATTRIBUTES, findIndexedAttribute, DEFAULT_RETURN_KEYWORDS } from './attributes';
export type { IndexedAttribute, IndexedValues, Level, MatchKind } from './attributes';
export { dicomTextDecoder, usesCodeExtensions } from './character-sets';
export { fromAcrNemaDate, fromAcrNemaTime } from './legacy-date-time';
export { readDcmjsDataSet } from './dcmjs-read';
export type { DicomTextDecoder } from './character-sets';
export { parseInstanceHeader, readSopInstanceUid } from './parse-header';
export { dicomParseOptions, implicitVr, parseStoredDicom } from './parse-options';
export { parseDicomReadingNewerVrs } from './newer-vrs';
export type { InstanceHeader } from './parse-header';
export { readDicomJson, BULK_DATA_PLACEHOLDER } from './dicom-json';
export type { DicomJson, DicomJsonAttribute } from './dicom-json';
export {
  hasNativeFrames,
  readPixelModule,
  readImagePixelModule,
  frameByteLength,
  readFrameValues,
  readNativeFrame,
  viewStoredSamples,
} from './pixel-data';
export type { ImagePixelAttributes, ImagePixelModule, PixelModule, StoredSamples } from './pixel-data';
export { compressedBulkDataMediaType, readBulkDataElement, readEncapsulatedFrames } from './bulk-data';
export { locateEncapsulatedFrames, readEncapsulatedFramesByRange } from './encapsulated-ranges';
export type { EncapsulatedFramesInFile } from './encapsulated-ranges';
export type { EncapsulatedFrames } from './bulk-data';
export { canTranscodeToExplicitVrLittleEndian, transcodeToExplicitVrLittleEndian } from './transcode';
export { nameBasedUid, newUid, seededUidSource } from './new-uid';
export { MIPSEG_MANUFACTURER } from './mipseg-identity';
export { MIPSEG_IMPLEMENTATION_CLASS_UID, MIPSEG_IMPLEMENTATION_VERSION_NAME } from './implementation-uid';
export { encodeFileMetaInformation, fileMetaUids, readFileMetaInformation } from './file-meta';
export type { FileMetaInformation, ParsedFileMeta } from './file-meta';
export { packBits, unpackBits } from './bit-packing';
export { emptyAttributeVr } from './implicit-data-set';
export { sameDataSet } from './same-data-set';
export { readTimedOut } from './dicom-json-pool';
export { readSegMask } from './seg-mask';
export type { SegMask } from './seg-mask';
