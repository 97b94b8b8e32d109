/** What the study view shows of a study: its header and cards, built from the study detail as answered. */
import type { AiState, AiStatus, ExportSummary, InstanceLinks, StudyDetail, StudyResult } from './api-types.js';
import { aiStatusBadge, exportBadge, jobStateLabel, triggerLabel } from './ai-status-view.js';
import { h } from './dom.js';
import { formatArea, formatDate, formatDateTime, formatDuration, formatPatientName, formatSexAge, formatTime, STUDY_DATE_TIME_NOTE } from './format.js';
import { WORKLIST_LINK, worklistHref } from './worklist-url.js';

const dl = (...pairs: Array<[string, Node | string]>): HTMLElement =>
  h('dl', { class: 'facts' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));

/**
 * `key` names what the card shows (patchChildren): a card for another result is built anew rather than patched
 * into the one on screen.
 */
function card(key: string, title: string, ...children: Array<Node | null>): HTMLElement {
  return h('section', { class: 'card', attrs: { 'data-key': key } }, h('h2', {}, title), ...children);
}

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
  return h('p', { class: 'warn-box', attrs: { 'data-previous-result': '', 'data-key': 'previous-result' } },
    `Showing ${which}; ${NEWER_RUN[ai.state] ?? 'a newer run exists'}.`);
}

/**
 * Why there is no result, where none will come of the newest run (its reason is in the badge above), and what can
 * change that: "No result yet" there would have the reader wait for one. Null while a result may still come.
 */
function finalVerdict(state: AiState): string | null {
  if (state === 'not-applicable') {
    return 'This study will not be analysed. Images that arrive for it later start a new check; Run again checks it now.';
  }
  if (state === 'failed') return 'The analysis failed, and no result will come of it. Run again tries once more.';
  if (state === 'deleted') return 'The result was deleted. Run again makes a new one.';
  return null;
}

/** Where the result and the MIP would be: the verdict that there will be none, or `pending` while one may come. */
export function noResultNote(ai: AiStatus, pending: string): HTMLElement {
  const verdict = finalVerdict(ai.state);
  return h('p', { class: 'muted', attrs: { 'data-no-result': verdict === null ? 'pending' : 'final' } }, verdict ?? pending);
}

export function resultCard(d: StudyDetail, r: StudyResult | null): HTMLElement {
  const status = aiStatusBadge(d.study.ai, true);
  if (!r) return card('no-result', 'AI result', status, noResultNote(d.study.ai, 'No result yet.'));
  const timings = Object.entries(r.timingsMs).map(([stage, ms]) => `${stage} ${formatDuration(ms)}`).join(' · ');
  return card(`result ${r.jobId}`, 'AI result', status, previousResultNote(d.study.ai, r), dl(
    ['Lesions', h('strong', { class: 'lesion-count' }, r.lesionCount === 0 ? 'none found' : String(r.lesionCount))],
    ['Tumour area (MIP)', formatArea(r.tumourAreaMm2)],
    ['Model', `${r.modelName} ${r.modelVersion}`],
    ['Result version', r.version === null ? '' : `v${r.version}`],
    ['Finished', formatDateTime(r.finishedAt)],
    ['Time taken', formatDuration(r.durationMs)],
  ), timings ? h('p', { class: 'timings sub' }, timings) : null);
}

export function downloadsCard(r: StudyResult): HTMLElement {
  const row = (label: string, links: InstanceLinks) => h('li', {},
    h('a', { class: 'btn small', attrs: { href: links.downloadUrl, download: `${links.sopInstanceUid}.dcm`, 'data-download': label } }, `Download ${label}`),
    h('a', { class: 'wado-link', attrs: { href: links.wadoRsUrl, title: 'WADO-RS Retrieve Instance (multipart/related)' } }, 'WADO-RS URL'));
  return card(`downloads ${r.jobId}`, 'DICOM objects', h('ul', { class: 'downloads' }, row('SEG', r.seg), row('MIP', r.mip)));
}

/** `stow:http://pacs/dicomweb` → STOW-RS, pacs/dicomweb; `dimse:AE@host:port` → C-STORE, AE@host:port. */
function destinationParts(destination: string): { readonly protocol: string; readonly address: string } {
  const [kind = '', ...rest] = destination.split(':');
  const address = rest.join(':').replace(/^https?:\/\//, '');
  return { protocol: kind === 'stow' ? 'STOW-RS' : kind === 'dimse' ? 'C-STORE' : kind, address };
}

function destinationLabel(destination: string): HTMLElement {
  const { protocol, address } = destinationParts(destination);
  return h('div', { title: destination }, h('span', { class: 'chip' }, protocol), h('div', { class: 'mono sub' }, address));
}

export function exportsCard(r: StudyResult, retryButton: (e: ExportSummary) => HTMLButtonElement): HTMLElement {
  if (r.exports.length === 0) return card(`exports ${r.jobId}`, 'PACS export', h('p', { class: 'muted' }, 'No export destinations are configured.'));
  return card(`exports ${r.jobId}`, 'PACS export', h('table', { class: 'compact' }, h('tbody', {}, ...r.exports.map((e) => h('tr', { attrs: { 'data-destination': e.destination, 'data-key': e.destination } },
    h('td', { class: 'dest' }, destinationLabel(e.destination)),
    h('td', {}, exportBadge(e), e.detail ? h('div', { class: 'reason', title: e.detail }, e.detail) : null),
    h('td', { class: 'sub nowrap' }, `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`),
    h('td', {}, e.state === 'failed' ? retryButton(e) : null))))));
}

export function seriesCard(d: StudyDetail): HTMLElement {
  return card('series', 'Series', h('table', { class: 'compact' }, h('tbody', {}, ...d.series.map((s) => h('tr', { attrs: { 'data-key': s.seriesInstanceUid } },
    h('td', { class: 'num' }, s.seriesNumber ?? ''), h('td', {}, h('span', { class: 'chip' }, s.modality ?? '?')),
    h('td', {}, s.seriesDescription ?? ''), h('td', { class: 'num sub' }, `${s.instances} img`))))));
}

/**
 * A run's PACS exports in its history row, a badge and the detail each (clamped, in full on hover), the destination
 * named where there are several: whether an older version reached the PACS, and why not (superseded by a newer
 * version, failed), is otherwise only in the jobs API. No Retry here, though the API sends a failed older export
 * again: sending a result older than the study's newest to the PACS on purpose is an administrator's decision, taken
 * through the API; on the radiologist's page the one Retry is the shown result's (exportsCard), and a second one beside
 * an outdated version would be pressed for it. (Should the newer version be sent there since, the retry ends
 * superseded anyway.)
 */
function historyExports(exports: readonly ExportSummary[]): HTMLElement {
  return h('td', { class: 'history-exports' }, ...exports.map((e) => h('div', {
    attrs: { 'data-destination': e.destination, 'data-key': e.destination }, title: e.detail ? `${e.destination}: ${e.detail}` : e.destination,
  }, exportBadge(e), exports.length > 1 ? h('span', { class: 'mono sub' }, ` ${destinationParts(e.destination).address}`) : null,
  e.detail ? h('div', { class: 'reason clamp' }, e.detail) : null)));
}

function triggerCell(trigger: string | null, version: number | null): HTMLElement {
  const t = triggerLabel(trigger, version);
  return h('td', { class: 'sub', ...(t ? { title: t.title } : {}), attrs: { 'data-trigger': trigger ?? '' } }, t?.label ?? '');
}

export function jobsCard(d: StudyDetail): HTMLElement | null {
  if (d.jobs.length === 0) return null;
  return card('jobs', 'Analysis history', h('table', { class: 'compact' }, h('tbody', {}, ...d.jobs.map((j) => h('tr', { attrs: { 'data-key': j.id, 'data-job-id': j.id } },
    h('td', { class: 'nowrap sub' }, formatDateTime(j.createdAt)),
    // Why a run failed stays readable after a later one succeeds: the reason under its state, in full on hover.
    h('td', { attrs: { 'data-job-state': j.state } }, jobStateLabel(j.state), j.reason ? h('div', { class: 'reason', title: j.reason }, j.reason) : null),
    triggerCell(j.trigger, j.version),
    h('td', { class: 'sub' }, j.version === null ? '' : `v${j.version}`),
    historyExports(j.exports)))),
  d.moreJobs ? h('p', { class: 'sub' }, `The ${d.jobs.length} newest runs are shown; older ones are listed by the jobs API.`) : null));
}

/** Back to the worklist as the reader left it: its filter and page. */
export const backLink = (): HTMLElement => h('a', { class: 'back', attrs: { href: worklistHref(), 'data-link': '', [WORKLIST_LINK]: '' } }, '‹ Worklist');

/** What replaces a study deleted while it was open: none of the patient's images or data, and the way back. */
export function studyDeleted(): HTMLElement {
  return h('div', { class: 'card study-deleted', attrs: { role: 'status', 'data-study-deleted': '' } },
    h('h1', {}, 'Study deleted'),
    h('p', { class: 'muted' }, 'This study is no longer in the archive: it was deleted while it was open here.'),
    h('a', { class: 'btn primary', attrs: { href: worklistHref(), 'data-link': '', [WORKLIST_LINK]: '' } }, 'Back to the worklist'));
}

export function header(d: StudyDetail, actions: HTMLElement): HTMLElement {
  const s = d.study;
  const studyAt = `${formatDate(s.studyDate)} ${formatTime(s.studyTime)}`.trim();
  const meta = [s.patientId ? `ID ${s.patientId}` : '', formatSexAge(s.patientSex, s.patientBirthDate, s.studyDate),
    studyAt ? h('span', { title: STUDY_DATE_TIME_NOTE, attrs: { 'data-study-date-time': '' } }, studyAt) : '',
    s.accessionNumber ? `Acc ${s.accessionNumber}` : '', s.studyDescription ?? '']
    .filter((part) => part !== '').flatMap((part, i) => (i === 0 ? [part] : [' · ', part]));
  return h('div', { class: 'study-head' },
    h('div', {}, backLink(),
      h('h1', { class: 'patient-name' }, formatPatientName(s.patientName)), h('div', { class: 'meta' }, ...meta)),
    actions);
}

