export { serve } from './serve';
export type { RunningService } from './serve';
export { sendFiles, listFiles } from './send';
export type { SendOptions, SendSummary } from './send';
