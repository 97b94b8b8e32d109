import { AuthRequiredError, fetchWorklist, type WorklistFilter } from './api.js';
import { backoffDelayMs } from './backoff.js';
import type { WorklistPage, WorklistStudy } from './api-types.js';
import { aiStateLabel, aiStatusBadge, exportBadge, tickElapsed, timeTaken } from './ai-status-view.js';
import { h, placeChildren, replaceChildren } from './dom.js';
import { patchChildren } from './dom-patch.js';
import { liveIndicator } from './live-indicator.js';
import { formatArea, formatDate, formatPatientName, formatSexAge, formatTime, STUDY_DATE_TIME_NOTE } from './format.js';
import { debounce, errorBox, isFinalRefusal, retryNotice, type Shell, type View } from './view.js';
import { FILTER_KEYS, parseWorklistSearch, rememberWorklistPath, worklistPath } from './worklist-url.js';
import { politeRegion } from './polite-region.js';

const PAGE_SIZE = 50;
const FILTER_STATES = ['waiting', 'queued', 'running', 'done', 'deleted', 'not-applicable', 'failed'] as const;

/** The filter and page live in the URL (and this tab remembers it), so that "back" from a study returns to the same list. */
function writeUrl(filter: WorklistFilter, offset: number): void {
  const path = worklistPath(filter, offset);
  history.replaceState(null, '', path);
  rememberWorklistPath(path);
}

function input(name: string, label: string, type: string, value: string | undefined, placeholder = ''): HTMLElement {
  const field = h('input', { attrs: { name, type, id: `f-${name}`, placeholder, autocomplete: 'off' } });
  field.value = value ?? '';
  return h('label', { class: 'field', attrs: { for: `f-${name}` } }, h('span', {}, label), field);
}

function stateSelect(value: string | undefined): HTMLElement {
  const select = h('select', { attrs: { name: 'state', id: 'f-state' } }, h('option', { attrs: { value: '' } }, 'All states'),
    ...FILTER_STATES.map((s) => h('option', { attrs: { value: s } }, aiStateLabel(s))));
  select.value = value ?? '';
  return h('label', { class: 'field', attrs: { for: 'f-state' } }, h('span', {}, 'AI state'), select);
}

function lesionCell(s: WorklistStudy): HTMLElement {
  if (s.ai.state !== 'done' || s.ai.lesionCount === null) return h('td', { class: 'num muted' }, '–');
  if (s.ai.lesionCount === 0) return h('td', { class: 'num' }, h('span', { class: 'muted' }, 'none found'));
  return h('td', { class: 'num' }, h('strong', {}, s.ai.lesionCount), h('div', { class: 'sub' }, formatArea(s.ai.tumourAreaMm2)));
}

/**
 * The newest job's PACS exports, a badge each, named in full on hover: a failed one retried (here, in another tab, or
 * by a script through the API) is seen going to pending and sent without the study being opened.
 */
function exportCell(s: WorklistStudy): HTMLElement {
  if (s.ai.exports.length === 0) return h('td', { class: 'muted' }, '–');
  return h('td', { class: 'col-export' }, ...s.ai.exports.map((e) => h('div', {
    attrs: { 'data-destination': e.destination, 'data-key': e.destination }, title: e.detail ? `${e.destination}: ${e.detail}` : e.destination,
  }, exportBadge(e))));
}

/** A row stays while its study is on the page (keeping focus and clicks); only its cells follow the data. */
function studyRow(uid: string, open: (uid: string) => void): HTMLTableRowElement {
  const go = () => open(uid);
  return h('tr', { class: 'study-row', attrs: { 'data-study-uid': uid, tabindex: '0' },
    on: {
      // The patient's name is a link of its own (the page's link handler takes a plain click on it; a Ctrl- or
      // middle-click opens the study in a new tab): the row must not open it a second time.
      click: (e) => { if (!(e.target as Element).closest('a')) go(); },
      keydown: (e) => { if (e.key === 'Enter' && !(e.target as Element).closest('a')) go(); },
    } });
}

/** The study's page, as a real link: it can be opened in a new tab, copied, and is named to a screen reader. */
const studyHref = (uid: string): string => `/studies/${uid}`;

function studyCells(s: WorklistStudy): HTMLElement[] {
  return [
    h('td', { class: 'col-state' }, aiStatusBadge(s.ai)),
    h('td', { class: 'col-patient' }, h('div', { class: 'patient-name' },
      h('a', { class: 'patient-link', attrs: { href: studyHref(s.studyInstanceUid), 'data-link': '' } }, formatPatientName(s.patientName))),
      h('div', { class: 'sub' }, [s.patientId ? `ID ${s.patientId}` : '', formatSexAge(s.patientSex, s.patientBirthDate, s.studyDate)].filter(Boolean).join(' · '))),
    h('td', { class: 'nowrap', title: STUDY_DATE_TIME_NOTE }, formatDate(s.studyDate), h('div', { class: 'sub' }, formatTime(s.studyTime))),
    h('td', { class: 'mono' }, s.accessionNumber || h('span', { class: 'muted' }, '—')),
    h('td', { class: 'col-desc' }, s.studyDescription ?? ''),
    h('td', {}, ...s.modalities.map((m) => h('span', { class: 'chip' }, m))),
    h('td', { class: 'num' }, s.petSeries),
    lesionCell(s),
    exportCell(s),
    h('td', { class: 'num nowrap' }, timeTaken(s.ai)),
  ];
}

const HEADERS = ['AI state', 'Patient', 'Study date', 'Accession', 'Description', 'Modalities', 'PET series', 'Lesions', 'PACS export', 'Time taken'];

/** The worklist: studies newest first, with search, state filter, paging and live updates. */
export function worklistView(shell: Shell): View {
  let { filter, offset } = parseWorklistSearch(location.search);
  let page: WorklistPage | undefined;
  let loading = 0;
  let failures = 0;
  let retryTimer: number | undefined;
  let disposed = false;
  /** The rows on screen, by StudyInstanceUID. */
  let rows = new Map<string, HTMLTableRowElement>();
  /** Each listed study's newest job and its state, as last shown (see announce). */
  let heard = new Map<string, string>();
  const announcement = politeRegion();
  rememberWorklistPath(worklistPath(filter, offset));
  const body = h('tbody');
  const status = h('div', { class: 'pager-status', attrs: { 'aria-live': 'polite' } });
  const prev = h('button', { class: 'btn', attrs: { type: 'button' }, on: { click: () => go(Math.max(0, offset - PAGE_SIZE)) } }, '‹ Previous');
  const next = h('button', { class: 'btn', attrs: { type: 'button' }, on: { click: () => go(offset + PAGE_SIZE) } }, 'Next ›');
  const message = h('div');
  const form = h('form', { class: 'filters', attrs: { role: 'search' }, on: { submit: (e) => { e.preventDefault(); search(); } } },
    input('patient', 'Patient', 'search', filter.patient, 'Name or ID'),
    input('accession', 'Accession', 'search', filter.accession),
    input('from', 'Study date from', 'date', filter.from),
    input('to', 'to', 'date', filter.to),
    stateSelect(filter.state),
    h('div', { class: 'filter-actions' }, h('button', { class: 'btn primary', attrs: { type: 'submit' } }, 'Search'),
      h('button', { class: 'btn ghost', attrs: { type: 'button' }, on: { click: () => { form.reset(); for (const el of form.querySelectorAll('input')) el.value = ''; search(); } } }, 'Clear')));
  form.addEventListener('change', (e) => { if ((e.target as HTMLElement).tagName === 'SELECT') search(); });

  function search(): void {
    const value = (name: string): string => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value.trim() ?? '';
    filter = Object.fromEntries(FILTER_KEYS.map((k): [string, string] => [k, value(k)]).filter(([, v]) => v));
    go(0);
  }

  function go(newOffset: number): void {
    offset = newOffset;
    writeUrl(filter, offset);
    void load();
  }

  /**
   * Each row on screen is patched to its study as answered (patchChildren), changing only what differs: a running job's
   * progress moves a number and a bar once a second, and the reader's focus, text selection and a screen reader's place
   * in the row stay where they were, in that cell too.
   */
  function renderRows(studies: readonly WorklistStudy[]): void {
    const open = (uid: string) => shell.navigate(`/studies/${uid}`);
    const kept = new Map<string, HTMLTableRowElement>();
    announce(studies);
    for (const s of studies) {
      const row = rows.get(s.studyInstanceUid) ?? studyRow(s.studyInstanceUid, open);
      patchChildren(row, studyCells(s));
      kept.set(s.studyInstanceUid, row);
    }
    rows = kept;
    placeChildren(body, studies.length ? [...kept.values()]
      : [h('tr', {}, h('td', { class: 'empty', attrs: { colspan: String(HEADERS.length) } }, ...emptyPage()))]);
  }

  /**
   * Says once, politely, when the AI state of the study whose row holds the keyboard focus changes ("GARCIA, ANNA:
   * AI analysis Done"): a row changes in place, which a screen reader does not read out by itself. Other rows stay
   * quiet, or a busy list would talk over the reader; progress within a state is left to the progress bar.
   */
  function announce(studies: readonly WorklistStudy[]): void {
    const focused = document.activeElement?.closest<HTMLElement>('tr.study-row');
    const focusedUid = focused && body.contains(focused) ? focused.dataset['studyUid'] : undefined;
    const now = new Map(studies.map((s): [string, string] => [s.studyInstanceUid, `${s.ai.jobId ?? ''} ${s.ai.state}`]));
    const study = studies.find((s) => s.studyInstanceUid === focusedUid);
    const before = focusedUid === undefined ? undefined : heard.get(focusedUid);
    if (study && before !== undefined && before !== now.get(study.studyInstanceUid)) {
      announcement.say(`${formatPatientName(study.patientName)}: AI analysis ${aiStateLabel(study.ai.state)}`);
    }
    heard = now;
  }

  /** What an empty page says: past the end of a list (studies left its filter, or an old link), or nothing matches. */
  function emptyPage(): Array<string | HTMLElement> {
    if (offset === 0) return ['No studies match.'];
    return ['No more studies: this page is past the end of the list. ',
      h('button', { class: 'btn small', attrs: { type: 'button', 'data-action': 'first-page' }, on: { click: () => go(0) } }, 'First page')];
  }

  function render(p: WorklistPage): void {
    renderRows(p.studies);
    status.textContent = p.studies.length ? `Studies ${p.offset + 1}–${p.offset + p.studies.length}${p.hasMore ? '' : ` of ${p.offset + p.studies.length}`}` : '';
    prev.disabled = p.offset === 0;
    next.disabled = !p.hasMore;
  }

  /**
   * A read that failed (a 503 while Redis blips, a gateway restarting, the network) is tried again after a backoff, and says so:
   * past the first page only an event naming a row on screen would read the list again, and it could stay frozen.
   */
  function loadFailed(err: unknown): void {
    const delay = backoffDelayMs(failures++);
    replaceChildren(message, errorBox(err), retryNotice(delay));
    retryTimer = window.setTimeout(() => void load(), delay);
  }

  /**
   * A read refused for what it asks: the error alone, no list. The rows, count and pager of the filter before would
   * read as this filter's results, and "Next" would ask the refused filter again.
   */
  function refused(err: unknown): void {
    replaceChildren(message, errorBox(err));
    page = undefined;
    rows = new Map();
    heard = new Map();
    placeChildren(body, []);
    status.textContent = '';
    prev.disabled = true;
    next.disabled = true;
  }

  async function load(): Promise<void> {
    const ticket = ++loading;
    window.clearTimeout(retryTimer);
    element.classList.add('loading');
    try {
      const result = await fetchWorklist(filter, PAGE_SIZE, offset);
      if (ticket !== loading || disposed) return; // a newer request is on its way, or the view is gone
      page = result;
      failures = 0;
      replaceChildren(message);
      render(result);
    } catch (err) {
      if (ticket !== loading || disposed) return; // superseded: its error no longer concerns what is asked for
      if (err instanceof AuthRequiredError) return shell.authRequired();
      // A refusal of what was asked (400: a from after to, an old link's state) will not change by asking again; a
      // proxy's 408 or 429, or anything from 500 up, may.
      if (isFinalRefusal(err)) return refused(err);
      loadFailed(err);
    } finally {
      if (ticket === loading) element.classList.remove('loading');
    }
  }

  const refresh = debounce(() => void load(), 250);
  const unsubscribe = shell.onStudiesChanged((changed) => {
    // A new study can only show on the first page (newest first); otherwise only rows on screen matter.
    if (offset === 0 || changed.has('*') || page?.studies.some((s) => changed.has(s.studyInstanceUid))) refresh();
  });
  const clock = window.setInterval(() => tickElapsed(body), 1000);

  const element = h('section', { class: 'worklist' },
    h('div', { class: 'page-head' }, h('h1', {}, 'PET worklist'),
      liveIndicator()),
    form, message, announcement.element,
    h('div', { class: 'table-wrap' }, h('table', { class: 'studies' }, h('thead', {}, h('tr', {}, ...HEADERS.map((t) => h('th', { attrs: { scope: 'col' } }, t)))), body)),
    h('div', { class: 'pager' }, status, h('div', { class: 'pager-buttons' }, prev, next)));
  void load();
  return { element, dispose: () => {
    disposed = true;
    unsubscribe();
    refresh.cancel();
    window.clearInterval(clock);
    window.clearTimeout(retryTimer);
    announcement.dispose();
  } };
}
