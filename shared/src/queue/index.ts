export { STAGES } from './job-types';
export type {
  AnalysisPlan, AnalysisRequest, DoneAnalysis, ExportCount, ExportState, ExportStatus, JobCounts, JobFilter, JobProgress, JobRecord, JobRequestSummary, JobState, ResultInstances,
  ResultUids, Stage,
} from './job-types';
export type { JobHandlers, JobQueue, ProcessingOptions } from './job-queue';
export { EmbeddedJobQueue } from './embedded-job-queue';
export type { EmbeddedQueueOptions } from './embedded-job-queue';
export { BullMqJobQueue } from './bullmq-job-queue';
export { StudyCheckOutbox } from './study-check-outbox';
export { GatewayUnavailableError, gatewayAwayCause } from './gateway-unavailable-error';
export { scheduleJobPruning } from './job-retention';
export { newestAnalysisBySeries } from './newest-analysis';
export type { BullMqQueueOptions } from './bullmq-job-queue';
export { isUnrecoverable, backoffDelay } from './retry-policy';
export type { RetryPolicy } from './retry-policy';
