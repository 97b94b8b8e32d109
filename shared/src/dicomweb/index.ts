export { readMultipart } from './multipart-reader';
export type { PartSink, PartHeaders, MultipartLimits } from './multipart-reader';
export { parseMediaType, parseAccept, negotiate, multipartPartType } from './media-type';
export type { MediaType, AcceptEntry } from './media-type';
export { readMultipartBody, readMultipartParts } from './multipart-body';
export type { MultipartPart } from './multipart-body';
export { toNativeDicomModelXml, NATIVE_DICOM_MODEL_NAMESPACE } from './native-dicom-model';
