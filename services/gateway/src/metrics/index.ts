export { GatewayMetrics } from './gateway-metrics';
export type { GatewayMetricsOptions } from './gateway-metrics';
export type { ArrivalRefusals, IngestRoute } from './ingest-metrics';
