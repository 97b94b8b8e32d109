export { createGatewayApp } from './app';
export type { GatewayDeps } from './app';
export type { ReadinessCheck } from './readiness';
export { GATEWAY_CLOSE_GRACE_MS, startGateway } from './server';
export type { GatewayServer } from './server';
export { jobsRouter } from './api/jobs-router';
export type { PipelineApi } from './api/jobs-router';
export { createWorklist, findOhifDist } from './worklist';
export type { Worklist, WorklistDeps } from './worklist';
