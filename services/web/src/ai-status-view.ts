import type { AiState, AiStatus, ExportSummary } from './api-types.js';
import { h } from './dom.js';
import { formatDuration, shortenUids, stageLabel } from './format.js';
import { politeRegion } from './polite-region.js';
import { serverNow } from './server-clock.js';

const LABELS: Readonly<Record<AiState, string>> = {
  waiting: 'Waiting for images', none: 'Not analysed', queued: 'Queued', running: 'Running', done: 'Done',
  deleted: 'Result deleted', 'not-applicable': 'Not applicable', failed: 'Failed',
};

export const aiStateLabel = (state: AiState): string => LABELS[state];

/** A job's state (JobSummary.state: one of AiState's) as the study list words it; a state this page does not know, as sent. */
export const jobStateLabel = (state: string): string => (LABELS as Readonly<Partial<Record<string, string>>>)[state] ?? state;

/**
 * What started a run (JobSummary.trigger, AnalysisRequest.reason): a series analysed again on study-complete has had
 * images added, changed or deleted since its earlier version (result version 2 on).
 */
export function triggerLabel(trigger: string | null, version: number | null): { readonly label: string; readonly title: string } | null {
  if (trigger === 'on-demand') return { label: 'On request', title: 'Asked for with Analyse or Run again (or the jobs API)' };
  if (trigger !== 'study-complete') return trigger === null ? null : { label: trigger, title: trigger };
  return version !== null && version > 1
    ? { label: 'Images changed', title: 'Images of the series arrived, changed or were deleted after its earlier analysis' }
    : { label: 'Study complete', title: 'The study stopped receiving images (its quiet period ended)' };
}

/** Time the analysis took, or has taken so far (kept current by {@link tickElapsed}). */
export function timeTaken(ai: AiStatus): HTMLElement {
  if (ai.state === 'running' && ai.startedAt !== null) {
    return h('span', { class: 'elapsed', attrs: { 'data-since': String(ai.startedAt) } }, formatDuration(serverNow() - ai.startedAt));
  }
  const ms = ai.finishedAt !== null && ai.startedAt !== null ? ai.finishedAt - ai.startedAt : null;
  return h('span', {}, formatDuration(ms));
}

/** Updates every running clock on the page (called once a second). */
export function tickElapsed(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>('.elapsed[data-since]')) {
    el.textContent = formatDuration(serverNow() - Number(el.dataset['since']));
  }
}

/** The state as a coloured badge; running shows its stage and progress, failures their reason. */
export function aiStatusBadge(ai: AiStatus, detailed = false): HTMLElement {
  const badge = h('span', { class: `badge state-${ai.state}`, attrs: { 'data-state': ai.state } }, LABELS[ai.state]);
  const wrap = h('div', { class: 'ai-status' }, badge);
  if (ai.state === 'running') {
    const bar = h('div', { class: 'progress-bar' });
    bar.style.width = `${ai.progress}%`; // CSSOM, not a style attribute: the page's CSP allows no inline styles
    const stage = `${stageLabel(ai.stage)} · ${ai.progress}%`;
    // A progress bar, not a live region: a screen reader reads it when asked, instead of at every update.
    wrap.append(h('div', { class: 'stage' }, stage),
      h('div', { class: 'progress', attrs: { role: 'progressbar', 'aria-label': 'Analysis progress', 'aria-valuemin': '0', 'aria-valuemax': '100',
        'aria-valuenow': String(ai.progress), 'aria-valuetext': stage } }, bar));
  }
  if (ai.reason && (ai.state === 'failed' || ai.state === 'not-applicable' || ai.state === 'deleted')) {
    wrap.append(h('div', { class: detailed ? 'reason' : 'reason clamp', title: ai.reason }, detailed ? ai.reason : shortenUids(ai.reason)));
  }
  return wrap;
}

/** The live region of aiStateAnnouncer, and what it hears the newest job's state from. */
export interface AiStateAnnouncer {
  readonly element: HTMLElement;
  update(ai: AiStatus): void;
  /** Drops words not yet said: the view is closed. */
  dispose(): void;
}

/**
 * A polite live region that says once when the newest job's state changes (queued, running, done, failed); progress
 * within a state is left to the progress bar, which a screen reader reads when asked rather than at every update.
 * The region is emptied first and given its words a moment later (politeRegion), so that the same words again (a
 * second run done, a run failing again as before) are read out.
 */
export function aiStateAnnouncer(): AiStateAnnouncer {
  const region = politeRegion();
  let heard: string | undefined;
  return {
    element: region.element,
    update(ai) {
      const now = `${ai.jobId ?? ''} ${ai.state}`;
      // Nothing for the state the view opened with: the reader reads the view itself.
      if (heard !== undefined && now !== heard) region.say(`AI analysis: ${LABELS[ai.state]}`);
      heard = now;
    },
    dispose: () => region.dispose(),
  };
}

const EXPORT_LABELS: Readonly<Record<ExportSummary['state'], string>> = {
  pending: 'Pending', sent: 'Sent', retrying: 'Retrying', failed: 'Failed', superseded: 'Superseded',
};

export function exportBadge(e: ExportSummary): HTMLElement {
  return h('span', { class: `badge export-${e.state}`, attrs: { 'data-export-state': e.state } }, EXPORT_LABELS[e.state]);
}
