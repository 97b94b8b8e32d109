export { isValidUid, assertUid } from './uid';
export { SopClass, VERIFICATION_SOP_CLASS, isSupportedStorageSopClass } from './sop-classes';
export { TransferSyntax, isUncompressed } from './transfer-syntaxes';
export { INDEXED_ATTRIBUTES, findIndexedAttribute, DEFAULT_RETURN_KEYWORDS } from './attributes';
export type { IndexedAttribute, IndexedValues, Level, MatchKind } from './attributes';
export { parseInstanceHeader } from './parse-header';
export type { InstanceHeader } from './parse-header';
export { readDicomJson, BULK_DATA_PLACEHOLDER } from './dicom-json';
export type { DicomJson, DicomJsonAttribute } from './dicom-json';
