export { Archive, storageKeyFor, HEADER_PROBE_BYTES, METADATA_FORMAT } from './archive';
export { scheduleRetiredPruning } from './retired-retention';
export type { StoreOutcome, StoreOptions, InstanceStoredListener, ReceivedFile, StudyDeletedFromListener, UnlistedFiles, UnlistedPlace } from './archive';
export { FileBlobStore } from './blob-store';
export type { BlobStore, PublishOptions, RangedBlob } from './blob-store';
export { SqliteArchiveIndex } from './sqlite-index';
export type { ArchiveIndex, StoredInstance, StoredFile, SearchRow, SearchResult } from './sqlite-index';
export type { SearchQuery, AttributeFilter, QueryLevel } from './query';
export { isMatchableAt } from './query';
