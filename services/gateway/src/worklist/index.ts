import type { Router } from 'express';
import type { Config } from '@mipseg/shared/config';
import type { SegmentationModel } from '@mipseg/shared/inference';
import type { Logger } from '@mipseg/shared/log';
import type { JobQueue } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import type { GatewayServer } from '../server';
import { worklistApiRouter } from './api-router';
import { pageRouter } from './page-router';
import { LazyModel } from './segment-mip-route';
import { keepAliveInterval, StudyEvents } from './study-events';
import { loadWebAssets } from './web-assets';

export interface WorklistDeps {
  readonly config: Config;
  readonly archive: Archive;
  readonly queue: JobQueue;
  readonly log: Logger;
  /** services/web: its public/ and its built dist/. */
  readonly webRoot: string;
  /** The OHIF Viewer's dist folder when @ohif/app is installed (see findOhifDist). */
  readonly ohifDist?: string;
  /** Loads the segmentation model for "Try a MIP image" (called once, on first use). */
  readonly loadModel: () => Promise<SegmentationModel>;
  /** How often the event stream looks at the job queue (ms). */
  readonly eventPollMs?: number;
}

export interface Worklist {
  /** Mounted at "/" before the bearer-token check: the page, its assets, logout, the OHIF viewer. */
  readonly pageRouter: Router;
  /** Mounted at "/api" after the bearer-token check. */
  readonly apiRouter: Router;
  /** Ends the page's event streams, which would hold the HTTP server open: call before closing it. */
  endEventStreams(): void;
  /** Frees the model ("Try a MIP image"): call once the HTTP server has closed, so that no request still waits for it. */
  close(): Promise<void>;
}

/** The worklist web page and its API (issue #5). */
export function createWorklist(deps: WorklistDeps): Worklist {
  const events = new StudyEvents(deps.queue, deps.archive, deps.log, deps.eventPollMs ?? 1000,
    keepAliveInterval(deps.config.httpInactivityTimeoutMs));
  const model = new LazyModel(deps.loadModel);
  return {
    pageRouter: pageRouter({ assets: loadWebAssets(deps.webRoot), ohifDist: deps.ohifDist }),
    apiRouter: worklistApiRouter({
      sources: { archive: deps.archive, queue: deps.queue }, events, model,
      authRequired: deps.config.authTokens.length > 0, viewerAvailable: deps.ohifDist !== undefined,
    }),
    endEventStreams: () => events.close(),
    close: async () => {
      events.close();
      await model.release();
    },
  };
}

/**
 * Closes the HTTP side in the one order that loses nothing: the page's event streams (they would hold the server open),
 * then the server, whose requests finish (with whatever else closes `alongside`, the DIMSE listener), and only then
 * the worklist's model, which such a request may have been waiting for. Every part is closed whatever another did
 * (a DIMSE close that fails, even by throwing before it returns a promise, must not end the wait for requests still in
 * their grace period, nor leave the model loaded). Then a single failure is thrown as it is, and several as one
 * AggregateError whose message names each: serve's shutdown logs what is thrown, and a second failure must show too.
 */
export async function closeGatewayAndWorklist(gateway: GatewayServer, worklist: Worklist,
  alongside: ReadonlyArray<() => Promise<unknown>> = [], graceMs?: number): Promise<void> {
  worklist.endEventStreams();
  const closed = await Promise.allSettled([() => gateway.close(graceMs), ...alongside].map((close) => Promise.resolve().then(close)));
  const [worklistClosed] = await Promise.allSettled([Promise.resolve().then(() => worklist.close())]);
  const failures = [...closed, worklistClosed].flatMap((result) => (result?.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const messages = failures.map((err) => (err instanceof Error ? err.message : String(err)));
    throw new AggregateError(failures, `${failures.length} closes failed: ${messages.join('; ')}`);
  }
}

export { findOhifDist } from './ohif-viewer';
