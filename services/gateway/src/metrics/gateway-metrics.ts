import type { Request, Response } from 'express';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Logger } from '@mipseg/shared/log';
import type { JobQueue } from '@mipseg/shared/queue';
import { HttpMetrics } from './http-metrics';
import { IngestMetrics } from './ingest-metrics';
import { JobMetrics } from './job-metrics';

export interface GatewayMetricsOptions {
  readonly queue: JobQueue;
  readonly exportDestinations: readonly string[];
  /** The service's release (package.json). */
  readonly softwareVersion: string;
  /** The model's manifest name and version, where the manifest could be read. */
  readonly model?: { readonly name: string; readonly version: string };
  /** QUIET_PERIOD_MS: the result latency's buckets are fine just past it (its default where not given). */
  readonly quietPeriodMs?: number;
  readonly log: Logger;
}

/**
 * What GET /metrics shows (Prometheus text exposition format): the process (prom-client's default metrics, prefixed
 * mipseg_), the service and model versions, instances received, HTTP requests, and the job store as read at the scrape.
 * Its own registry, so that two services in one process (tests) do not share counters.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly ingest: IngestMetrics;
  readonly http: HttpMetrics;
  private readonly jobs: JobMetrics;

  constructor(options: GatewayMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'mipseg_' });
    new Gauge({ name: 'mipseg_service_info', registers, labelNames: ['version'], help: 'The mipseg release this process runs (always 1)' })
      .set({ version: options.softwareVersion }, 1);
    if (options.model) {
      new Gauge({ name: 'mipseg_model_info', registers, labelNames: ['name', 'version'],
        help: 'The segmentation model of this installation, from its manifest (always 1); in queue mode the workers\' own copy may differ' })
        .set({ name: options.model.name, version: options.model.version }, 1);
    }
    this.ingest = new IngestMetrics(this.registry);
    this.http = new HttpMetrics(this.registry);
    this.jobs = new JobMetrics(this.registry, { queue: options.queue, exportDestinations: options.exportDestinations,
      lastStoredAt: (study) => this.ingest.lastStoredAt(study), quietPeriodMs: options.quietPeriodMs, log: options.log });
  }

  /** GET /metrics: the job store read now, then every metric in the text exposition format. */
  handler() {
    return async (_req: Request, res: Response): Promise<void> => {
      await this.jobs.refresh();
      const body = await this.registry.metrics();
      res.set('Content-Type', this.registry.contentType).set('Cache-Control', 'no-store').send(body);
    };
  }
}
