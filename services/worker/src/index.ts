export { startPipeline, createJobQueue } from './pipeline/pipeline-runtime';
export type { PipelineRuntime, PipelineOptions } from './pipeline/pipeline-runtime';
export type { PlanOutcome } from './pipeline/plan-study';
export { studyDeletionRefusal } from './pipeline/study-deletion-guard';
