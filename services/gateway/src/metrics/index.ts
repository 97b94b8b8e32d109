export { GatewayMetrics } from './gateway-metrics';
export type { GatewayMetricsOptions } from './gateway-metrics';
export type { IngestRoute } from './ingest-metrics';
