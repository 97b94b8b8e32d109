import { analyzeStudy, ApiError, AuthRequiredError, fetchStudy, retryExport, type AnalyzeAnswer } from './api.js';
import type { AiState, AiStatus, ExportSummary, InstanceLinks, StudyDetail, StudyResult } from './api-types.js';
import { aiStatusBadge, exportBadge, tickElapsed, timeTaken } from './ai-status-view.js';
import { focusedKey, h, replaceChildren, restoreFocus } from './dom.js';
import { formatArea, formatDate, formatDateTime, formatDuration, formatPatientName, formatSexAge, formatTime } from './format.js';
import { mipViewer } from './mip-viewer.js';
import { backoffDelayMs } from './backoff.js';
import { debounce, errorBox, errorMessage, isFinalRefusal, retryNotice, type Shell, type View } from './view.js';
import { WORKLIST_LINK, worklistHref } from './worklist-url.js';

const dl = (...pairs: Array<[string, Node | string]>): HTMLElement =>
  h('dl', { class: 'facts' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));

function card(title: string, ...children: Array<Node | null>): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** A job in one of these states changes no more. */
const FINAL_STATES: ReadonlySet<AiState> = new Set(['done', 'deleted', 'failed', 'not-applicable']);

const NEWER_RUN: Partial<Record<AiState, string>> = {
  waiting: 'new images are arriving, and a new run will follow', queued: 'the newest run is in progress',
  running: 'the newest run is in progress', failed: 'the newest run failed', 'not-applicable': 'the newest run was not applicable',
};

/**
 * Where the result shown is not the newest job's (that one failed, runs, or did not apply), says so: the badge is the
 * newest job's, the facts below it an earlier one's, and read together they would be taken for one run.
 */
function previousResultNote(ai: AiStatus, r: StudyResult): HTMLElement | null {
  if (ai.jobId === r.jobId) return null;
  const which = r.version === null ? 'the previous result' : `the previous result (v${r.version})`;
  return h('p', { class: 'warn-box', attrs: { 'data-previous-result': '' } },
    `Showing ${which}; ${NEWER_RUN[ai.state] ?? 'a newer run exists'}.`);
}

function resultCard(d: StudyDetail, r: StudyResult | null): HTMLElement {
  const status = aiStatusBadge(d.study.ai, true);
  if (!r) return card('AI result', status, h('p', { class: 'muted' }, d.study.ai.state === 'deleted' ? 'The result was deleted.' : 'No result yet.'));
  const timings = Object.entries(r.timingsMs).map(([stage, ms]) => `${stage} ${formatDuration(ms)}`).join(' · ');
  return card('AI result', status, previousResultNote(d.study.ai, r), dl(
    ['Lesions', h('strong', { class: 'lesion-count' }, r.lesionCount === 0 ? 'none found' : String(r.lesionCount))],
    ['Tumour area (MIP)', formatArea(r.tumourAreaMm2)],
    ['Model', `${r.modelName} ${r.modelVersion}`],
    ['Result version', r.version === null ? '' : `v${r.version}`],
    ['Finished', formatDateTime(r.finishedAt)],
    ['Time taken', formatDuration(r.durationMs)],
  ), timings ? h('p', { class: 'timings sub' }, timings) : null);
}

function downloadsCard(r: StudyResult): HTMLElement {
  const row = (label: string, links: InstanceLinks) => h('li', {},
    h('a', { class: 'btn small', attrs: { href: links.downloadUrl, download: `${links.sopInstanceUid}.dcm`, 'data-download': label } }, `Download ${label}`),
    h('a', { class: 'wado-link', attrs: { href: links.wadoRsUrl, title: 'WADO-RS Retrieve Instance (multipart/related)' } }, 'WADO-RS URL'));
  return card('DICOM objects', h('ul', { class: 'downloads' }, row('SEG', r.seg), row('MIP', r.mip)));
}

/** `stow:http://pacs/dicomweb` → STOW-RS pacs/dicomweb; `dimse:AE@host:port` → C-STORE AE@host:port. */
function destinationLabel(destination: string): HTMLElement {
  const [kind = '', ...rest] = destination.split(':');
  const address = rest.join(':').replace(/^https?:\/\//, '');
  const protocol = kind === 'stow' ? 'STOW-RS' : kind === 'dimse' ? 'C-STORE' : kind;
  return h('div', { title: destination }, h('span', { class: 'chip' }, protocol), h('div', { class: 'mono sub' }, address));
}

function exportsCard(r: StudyResult, retryButton: (e: ExportSummary) => HTMLButtonElement): HTMLElement {
  if (r.exports.length === 0) return card('PACS export', h('p', { class: 'muted' }, 'No export destinations are configured.'));
  return card('PACS export', h('table', { class: 'compact' }, h('tbody', {}, ...r.exports.map((e) => h('tr', { attrs: { 'data-destination': e.destination } },
    h('td', { class: 'dest' }, destinationLabel(e.destination)),
    h('td', {}, exportBadge(e), e.detail ? h('div', { class: 'reason', title: e.detail }, e.detail) : null),
    h('td', { class: 'sub nowrap' }, `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`),
    h('td', {}, e.state === 'failed' ? retryButton(e) : null))))));
}

function seriesCard(d: StudyDetail): HTMLElement {
  return card('Series', h('table', { class: 'compact' }, h('tbody', {}, ...d.series.map((s) => h('tr', {},
    h('td', { class: 'num' }, s.seriesNumber ?? ''), h('td', {}, h('span', { class: 'chip' }, s.modality ?? '?')),
    h('td', {}, s.seriesDescription ?? ''), h('td', { class: 'num sub' }, `${s.instances} img`))))));
}

function jobsCard(d: StudyDetail): HTMLElement | null {
  if (d.jobs.length === 0) return null;
  return card('Analysis history', h('table', { class: 'compact' }, h('tbody', {}, ...d.jobs.map((j) => h('tr', {},
    h('td', { class: 'nowrap sub' }, formatDateTime(j.createdAt)),
    // Why a run failed stays readable after a later one succeeds: the reason under its state, in full on hover.
    h('td', {}, j.state, j.reason ? h('div', { class: 'reason', title: j.reason }, j.reason) : null),
    h('td', { class: 'sub' }, j.trigger ?? ''),
    h('td', { class: 'sub' }, j.version === null ? '' : `v${j.version}`)))),
  d.moreJobs ? h('p', { class: 'sub' }, `The ${d.jobs.length} newest runs are shown; older ones are listed by the jobs API.`) : null));
}

/** Back to the worklist as the reader left it: its filter and page. */
const backLink = (): HTMLElement => h('a', { class: 'back', attrs: { href: worklistHref(), 'data-link': '', [WORKLIST_LINK]: '' } }, '‹ Worklist');

/** The archive no longer holds the study (an administrator's DELETE): trying again cannot bring it back. */
const isStudyGone = (err: unknown): boolean => err instanceof ApiError && err.code === 'MIPSEG_NOT_FOUND';

/** What replaces a study deleted while it was open: none of the patient's images or data, and the way back. */
function studyDeleted(): HTMLElement {
  return h('div', { class: 'card study-deleted', attrs: { role: 'status', 'data-study-deleted': '' } },
    h('h1', {}, 'Study deleted'),
    h('p', { class: 'muted' }, 'This study is no longer in the archive: it was deleted while it was open here.'),
    h('a', { class: 'btn primary', attrs: { href: worklistHref(), 'data-link': '', [WORKLIST_LINK]: '' } }, 'Back to the worklist'));
}

function header(d: StudyDetail, actions: HTMLElement): HTMLElement {
  const s = d.study;
  const meta = [s.patientId ? `ID ${s.patientId}` : '', formatSexAge(s.patientSex, s.patientBirthDate, s.studyDate),
    `${formatDate(s.studyDate)} ${formatTime(s.studyTime)}`.trim(), s.accessionNumber ? `Acc ${s.accessionNumber}` : '', s.studyDescription ?? '']
    .filter(Boolean).join(' · ');
  return h('div', { class: 'study-head' },
    h('div', {}, backLink(),
      h('h1', { class: 'patient-name' }, formatPatientName(s.patientName)), h('div', { class: 'meta' }, meta)),
    actions);
}

/** One study: the MIP with its segmentation, the result, downloads, PACS export, series and job history. */
export function studyView(shell: Shell, uid: string): View {
  const element = h('section', { class: 'study' }, h('p', { class: 'muted' }, 'Loading…'));
  const notice = h('div', { class: 'notice', attrs: { 'aria-live': 'polite' } });
  const refreshNotice = h('div', { class: 'notice', attrs: { 'aria-live': 'polite', 'data-refresh-notice': '' } });
  let shownResult: string | undefined;
  /** The study detail as last rendered (JSON). */
  let shownDetail = '';
  let mip: HTMLElement | undefined;
  let shown = false;
  let loading = 0;
  let failures = 0;
  let retryTimer: number | undefined;
  /** Set by stop(): the reader has left this view, and an answer still on its way must not start anything. */
  let stopped = false;

  /** The newest job's id as last shown. */
  let shownJobId: string | null = null;
  /**
   * The run an analyse answer told of (new, or one already under way), with the newest job when it was answered: the
   * notice about it goes once that run is final, or another job has become the newest.
   */
  let awaited: { readonly jobId: string; readonly since: string | null } | undefined;

  /** The actions asked for and not yet answered, by key: their buttons stay disabled, through re-renders too. */
  const asked = new Set<string>();

  function setAsked(key: string, on: boolean): void {
    if (on) asked.add(key);
    else asked.delete(key);
    for (const b of element.querySelectorAll<HTMLButtonElement>('button[data-action-key]')) {
      if (b.dataset.actionKey === key) b.disabled = on;
    }
  }

  /** A button whose request is asked once until answered. */
  function actionButton<T>(key: string, label: string, props: { class: string; attrs?: Record<string, string> },
    what: () => Promise<T>, done: (answer: T) => string): HTMLButtonElement {
    const b = h('button', { class: props.class, attrs: { type: 'button', 'data-action-key': key, ...props.attrs },
      on: { click: () => void act(key, what, done) } }, label);
    b.disabled = asked.has(key);
    return b;
  }

  /**
   * Runs a button's request with its button disabled until it is answered: a second click (a double click, or one
   * more because nothing seemed to happen) must not ask again. `done` words the answer.
   */
  async function act<T>(key: string, what: () => Promise<T>, done: (answer: T) => string): Promise<void> {
    if (asked.has(key)) return;
    setAsked(key, true);
    try {
      const answer = await what();
      if (stopped) return;
      awaited = undefined;
      replaceChildren(notice, h('div', { class: 'ok-box' }, done(answer)));
      await load();
    } catch (err) {
      if (stopped) return;
      if (err instanceof AuthRequiredError) return shell.authRequired();
      replaceChildren(notice, errorBox(err));
    } finally {
      setAsked(key, false);
    }
  }

  function analyzeAnswered(answer: AnalyzeAnswer): string {
    if (answer.kind !== 'not-applicable') awaited = { jobId: answer.jobId, since: shownJobId };
    if (answer.kind === 'unchanged') return `Not asked again: ${answer.reason ?? 'an analysis of these instances is under way'}; its result will show here.`;
    if (answer.kind === 'not-applicable') return `Not analysed: ${answer.reason ?? 'the study has no series the model can read'}.`;
    return 'Analysis requested: a new result version will follow.';
  }

  function actions(d: StudyDetail): HTMLElement {
    const viewer = d.viewer.available
      ? h('a', { class: 'btn', attrs: { href: d.viewer.url, target: '_blank', rel: 'noopener' } }, 'Open in viewer')
      : h('a', { class: 'btn', attrs: { href: d.viewer.url, target: '_blank', rel: 'noopener', title: 'The OHIF viewer is not installed: npm run install:ohif' } }, 'Open in viewer (not installed)');
    const label = d.jobs.length === 0 && d.study.ai.jobId === null ? 'Analyse' : 'Run again';
    return h('div', { class: 'actions' }, viewer,
      actionButton('analyze', label, { class: 'btn primary', attrs: { 'data-action': 'analyze' } }, () => analyzeStudy(uid), analyzeAnswered));
  }

  /**
   * Takes the analyse notice away once the run it told of has ended, or been overtaken by another; an error a later
   * action was answered with stays (it is about that action, not the run).
   */
  function settleAwaited(ai: AiStatus): void {
    shownJobId = ai.jobId;
    if (!awaited) return;
    const ended = ai.jobId === awaited.jobId ? FINAL_STATES.has(ai.state) : ai.jobId !== awaited.since;
    if (!ended) return;
    awaited = undefined;
    if (!notice.querySelector('.error-box')) replaceChildren(notice);
  }

  function render(d: StudyDetail): void {
    settleAwaited(d.study.ai);
    // An answer like the one on screen (a refresh on reconnect, an event for what this view does not show) changes
    // nothing: rebuilding would only take the reader's focus and text selection.
    const json = JSON.stringify(d);
    if (json === shownDetail) return;
    shownDetail = json;
    const focus = focusedKey(element);
    const r = d.result;
    // Keep the image elements (and the reader's zoom and scroll) while the same result is shown.
    if (!r) mip = undefined;
    else if (r.seg.sopInstanceUid !== shownResult) {
      mip = mipViewer({ mipUrl: r.mip.renderedUrl, overlayUrl: r.seg.overlayUrl, alt: 'Coronal SUV MIP', invertible: true });
    }
    shownResult = r?.seg.sopInstanceUid;
    const image = mip ?? h('div', { class: 'mip-placeholder' }, aiStatusBadge(d.study.ai, true), h('p', { class: 'muted' }, 'The MIP and its segmentation appear here when the analysis is done.'), timeTaken(d.study.ai));
    shown = true;
    replaceChildren(element, header(d, actions(d)), notice, refreshNotice,
      h('div', { class: 'study-grid' }, h('div', { class: 'image-pane' }, image),
        h('div', { class: 'side-pane' }, resultCard(d, r), r ? downloadsCard(r) : null,
          r ? exportsCard(r, (e) => actionButton(`retry ${r.jobId} ${e.destination}`, 'Retry', { class: 'btn small' },
            () => retryExport(r.jobId, e.destination), () => `Sending to ${e.destination} again.`)) : null,
          seriesCard(d), jobsCard(d))));
    restoreFocus(element, focus);
  }

  /** The study was deleted while shown: its images and data leave the screen, and nothing is asked for again. */
  function deleted(): void {
    stop();
    mip = undefined;
    shownResult = undefined;
    replaceChildren(element, studyDeleted());
  }

  /** A refresh that failed otherwise keeps the study on screen, says so, and is tried again. */
  function refreshFailed(err: unknown): void {
    const delay = backoffDelayMs(failures++);
    replaceChildren(refreshNotice, h('div', { class: 'error-box', attrs: { role: 'status' } },
      `Could not refresh: ${errorMessage(err)}; retrying in ${Math.round(delay / 1000)} s.`));
    retryTimer = window.setTimeout(() => void load(), delay);
  }

  async function load(): Promise<void> {
    if (stopped) return;
    const ticket = ++loading;
    window.clearTimeout(retryTimer);
    try {
      const detail = await fetchStudy(uid);
      if (ticket !== loading) return; // a newer request is on its way, or the view is gone
      failures = 0;
      replaceChildren(refreshNotice);
      render(detail);
    } catch (err) {
      if (ticket !== loading) return;
      if (err instanceof AuthRequiredError) return shell.authRequired();
      if (shown && isStudyGone(err)) return deleted();
      if (shown) return refreshFailed(err);
      if (isFinalRefusal(err)) return void replaceChildren(element, backLink(), errorBox(err));
      firstLoadFailed(err);
    }
  }

  /**
   * The first read failed where asking again may pass (a 503 while Redis is away, a gateway restarting behind its
   * proxy): said, and tried again. No live update would bring the study: the event stream names changed studies only.
   */
  function firstLoadFailed(err: unknown): void {
    const delay = backoffDelayMs(failures++);
    replaceChildren(element, backLink(), errorBox(err), retryNotice(delay));
    retryTimer = window.setTimeout(() => void load(), delay);
  }

  const refresh = debounce(() => void load(), 250);
  const unsubscribe = shell.onStudiesChanged((changed) => { if (changed.has(uid) || changed.has('*')) refresh(); });
  const clock = window.setInterval(() => tickElapsed(element), 1000);
  void load();
  /** No more refreshes: no live updates, no pending or retried request, and answers still on their way dropped. */
  function stop(): void {
    stopped = true;
    unsubscribe();
    refresh.cancel();
    window.clearInterval(clock);
    window.clearTimeout(retryTimer);
    loading++;
  }
  return { element, dispose: stop };
}
