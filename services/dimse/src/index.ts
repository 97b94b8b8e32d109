export { startDimseServer } from './dimse-server';
export type { DimseServer, DimseServerDeps } from './dimse-server';
export type { DimseTimeouts } from './association-timers';
export { sendInstancesDimse } from './store-scu';
export type { InstanceSendOutcome, InstanceSendResult, StoreScuOptions } from './store-scu';
export { classifyCStoreStatus, cStoreResultFor } from './c-store-status';
export type { CStoreResult, CStoreStatusClass } from './c-store-status';
