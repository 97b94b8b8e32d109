import { analyzeStudy, ApiError, AuthRequiredError, fetchStudy, retryExport, type AnalyzeAnswer } from './api.js';
import type { AiState, AiStatus, ExportSummary, StudyDetail, StudyResult } from './api-types.js';
import { aiStateAnnouncer, aiStatusBadge, tickElapsed, timeTaken } from './ai-status-view.js';
import { focusedKey, h, replaceChildren, restoreFocus } from './dom.js';
import { patchChildren } from './dom-patch.js';
import { mipViewer } from './mip-viewer.js';
import { backoffDelayMs } from './backoff.js';
import { backLink, downloadsCard, exportsCard, header, jobsCard, noResultNote, resultCard, seriesCard, studyDeleted } from './study-cards.js';
import { debounce, errorBox, errorMessage, isFinalRefusal, retryNotice, type Shell, type View } from './view.js';

/** A job in one of these states changes no more. */
const FINAL_STATES: ReadonlySet<AiState> = new Set(['done', 'deleted', 'failed', 'not-applicable']);

/** The archive no longer holds the study (an administrator's DELETE): trying again cannot bring it back. */
const isStudyGone = (err: unknown): boolean => err instanceof ApiError && err.code === 'MIPSEG_NOT_FOUND';

/** One study: the MIP with its segmentation, the result, downloads, PACS export, series and job history. */
export function studyView(shell: Shell, uid: string): View {
  const element = h('section', { class: 'study' }, h('p', { class: 'muted' }, 'Loading…'));
  const notice = h('div', { class: 'notice', attrs: { 'aria-live': 'polite' } });
  const refreshNotice = h('div', { class: 'notice', attrs: { 'aria-live': 'polite', 'data-refresh-notice': '' } });
  const announcer = aiStateAnnouncer();
  const imagePane = h('div', { class: 'image-pane' });
  const sidePane = h('div', { class: 'side-pane' });
  const grid = h('div', { class: 'study-grid' }, imagePane, sidePane);
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

  /** The MIP viewer of the result shown: kept, with the reader's zoom and the loaded images, while that result stays. */
  function image(d: StudyDetail): HTMLElement {
    const r = d.result;
    if (!r) mip = undefined;
    else if (r.seg.sopInstanceUid !== shownResult) {
      mip = mipViewer({ mipUrl: r.mip.renderedUrl, overlayUrl: r.seg.overlayUrl, alt: 'Coronal SUV MIP', invertible: true });
      // Keyed, so that another result's viewer replaces this one rather than being patched into it with its listeners.
      mip.setAttribute('data-key', r.seg.sopInstanceUid);
    }
    shownResult = r?.seg.sopInstanceUid;
    return mip ?? h('div', { class: 'mip-placeholder' }, aiStatusBadge(d.study.ai, true), noResultNote(d.study.ai, 'The MIP and its segmentation appear here when the analysis is done.'), timeTaken(d.study.ai));
  }

  function sideCards(d: StudyDetail): HTMLElement[] {
    const r = d.result;
    const retry = (res: StudyResult) => (e: ExportSummary) => actionButton(`retry ${res.jobId} ${e.destination}`, 'Retry', { class: 'btn small' },
      () => retryExport(res.jobId, e.destination), () => `Sending to ${e.destination} again.`);
    return [resultCard(d, r), r ? downloadsCard(r) : null, r ? exportsCard(r, retry(r)) : null, seriesCard(d), jobsCard(d)]
      .filter((c): c is HTMLElement => c !== null);
  }

  function render(d: StudyDetail): void {
    settleAwaited(d.study.ai);
    // An answer like the one on screen (a refresh on reconnect, an event for what this view does not show) changes
    // nothing: patching would find nothing to change.
    const json = JSON.stringify(d);
    if (json === shownDetail) return;
    shownDetail = json;
    const focus = focusedKey(element);
    announcer.update(d.study.ai);
    // Laid out anew only where something else held the view (Loading…, a failed first read). From then on each answer
    // is patched in, so a progress update changes a number and a bar, not the page: a screen reader keeps its place,
    // the reader their text selection, and the MIP stays loaded.
    if (grid.parentNode !== element) replaceChildren(element);
    patchChildren(element, [header(d, actions(d)), notice, refreshNotice, announcer.element, grid]);
    patchChildren(imagePane, [image(d)]);
    patchChildren(sidePane, sideCards(d));
    shown = true;
    // Where the focused control itself was replaced (a card for a new result).
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
    announcer.dispose();
    loading++;
  }
  return { element, dispose: stop };
}
