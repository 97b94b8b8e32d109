import { Router, type Request } from 'express';
import { assertUid } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { Archive, StoredInstance } from '@mipseg/shared/store';
import { callerOf, stillSignedIn } from '../auth';
import { readStoredFile, sendStoredFile } from '../stored-read';
import { singleQueryParam } from './query-params';
import { answeredNotModified, entityTag } from '../revalidation';
import { OVERLAY_RENDERING_VERSION, segToOverlayPng } from './seg-overlay';
import { segmentMipHandler, type LazyModel } from './segment-mip-route';
import { createSession } from './session';
import { latestResult, readStudyDetail } from './study-detail';
import { isExporting } from './followed-exports';
import { EVENT_STREAM_HEADERS, type StudyEvents } from './study-events';
import { parseWorklistQuery, searchWorklist, type WorklistSources } from './worklist-query';
import type { StudyDetail } from './worklist-types';

export interface ApiRouterOptions {
  readonly sources: WorklistSources;
  readonly events: StudyEvents;
  readonly model: LazyModel;
  readonly authRequired: boolean;
  readonly viewerAvailable: boolean;
}

const uidParam = (req: Request, name: string, what: string): string => assertUid(String(req.params[name]), what);

/** An instance of `study` (404 when it is of another study). */
function findInstance(archive: Archive, study: string, series: string | undefined, sop: string): StoredInstance {
  const [instance] = archive.index.listInstances({ studyUid: study, ...(series ? { seriesUid: series } : {}), sopInstanceUid: sop });
  if (!instance) throw new MipsegError('MIPSEG_NOT_FOUND', `instance ${sop} in study ${study}`);
  return instance;
}

/**
 * Largest SEG file drawn as an overlay: MAX_OVERLAY_PIXELS at one bit each is half a megabyte, and a header of a
 * few more. Checked before the file is read, so that naming a large instance does not make the gateway hold it.
 */
const MAX_OVERLAY_FILE_BYTES = 16 * 1024 * 1024;

/**
 * What a study view follows on the event stream. An older run in its history whose export is still under way (pending or
 * retrying while a newer version is made) changes by itself, typically to superseded seconds after the newer version is
 * done: followed like the shown result's, so that its row changes on the open page however far the job is from the newest
 * ones each poll reads. Only those under way: they settle and are let go, so a long history costs no reads once its
 * exports are final. The shown result is followed last: past the most followed, the job followed longest ago is let go,
 * and that must never be the result the view shows.
 */
export function followStudyView(events: Pick<StudyEvents, 'followExports' | 'showExports'>, detail: StudyDetail): void {
  for (const job of detail.jobs) {
    if (job.id !== detail.result?.jobId && isExporting(job)) events.followExports({ jobId: job.id, exports: job.exports });
  }
  // A study shown with exports under way (a Retry just asked): the event stream follows them, however old the job.
  if (detail.result && isExporting(detail.result)) events.followExports(detail.result);
  // One failed: a retry asked by anyone else (a script, another workstation) must reach this view too.
  else if (detail.result) events.showExports(detail.result);
}

/** The worklist page's API, mounted under /api after the bearer-token check. */
export function worklistApiRouter(options: ApiRouterOptions): Router {
  const { sources } = options;
  const r = Router();
  r.get('/session', createSession(options.authRequired));
  r.post('/session', createSession(options.authRequired));
  r.get('/worklist', async (req, res) => {
    const page = await searchWorklist(sources, parseWorklistQuery(req));
    // A listed study's export that failed may be retried by anyone through the API: the event stream follows it.
    for (const study of page.studies) options.events.showExports(study.ai);
    res.set('Cache-Control', 'no-store').json(page);
  });
  // Its own route: Express gives HEAD to the GET route, whose stream, with no body to send, held the connection
  // until the inactivity timeout. It answers as GET would (503 when full or shutting down), opening no stream.
  r.head('/worklist/events', (req, res) => {
    if (options.events.hasRoom(res, callerOf(req, res))) res.status(200).set(EVENT_STREAM_HEADERS).end();
  });
  r.get('/worklist/events', (req, res) => options.events.subscribe(res, stillSignedIn(res), callerOf(req, res)));
  r.get('/worklist/studies/:study', async (req, res) => {
    const study = uidParam(req, 'study', 'StudyInstanceUID');
    const detail = await readStudyDetail(sources, study, { viewerAvailable: options.viewerAvailable });
    followStudyView(options.events, detail);
    res.set('Cache-Control', 'no-store').json(detail);
  });
  r.get('/studies/:study/overlay.png', async (req, res) => {
    const study = uidParam(req, 'study', 'StudyInstanceUID');
    const segParam = singleQueryParam(req, 'seg');
    const named = segParam === undefined ? undefined : assertUid(segParam, 'seg');
    const seg = named ?? (await latestResult(sources, study))?.segSopInstanceUid;
    if (!seg) throw new MipsegError('MIPSEG_NOT_FOUND', `a result of study ${study}`);
    const instance = findInstance(sources.archive, study, undefined, seg);
    if (instance.size > MAX_OVERLAY_FILE_BYTES) {
      throw new MipsegError('MIPSEG_SEG_UNSUPPORTED', `a file of ${instance.size} bytes (at most ${MAX_OVERLAY_FILE_BYTES} drawn as an overlay)`);
    }
    // The SEG's hash and the drawing's version name the PNG: the browser revalidates and gets 304 while both hold.
    if (answeredNotModified(req, res, entityTag(OVERLAY_RENDERING_VERSION, instance.sha256))) return;
    res.type('image/png').send(segToOverlayPng(await readStoredFile(sources.archive, instance)));
  });
  r.get('/studies/:study/series/:series/instances/:instance/file', async (req, res) => {
    const study = uidParam(req, 'study', 'StudyInstanceUID');
    const instance = findInstance(sources.archive, study, uidParam(req, 'series', 'SeriesInstanceUID'), uidParam(req, 'instance', 'SOPInstanceUID'));
    // Revalidated, as /rendered is: a copy replaced by a corrected one must not be handed out from a cache for an hour.
    if (answeredNotModified(req, res, `"${instance.sha256.slice(0, 32)}"`)) return;
    await sendStoredFile(sources.archive, instance, res, 'application/dicom',
      { 'Content-Disposition': `attachment; filename="${instance.sopInstanceUid}.dcm"` });
  });
  r.post('/segment-mip', segmentMipHandler(options.model));
  return r;
}
