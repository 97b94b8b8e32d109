import { ApiError } from './api.js';
import { FINAL_STATUSES } from './backoff.js';
import { h } from './dom.js';

/** What main.ts shows: one view at a time, disposed (listeners, timers) when the route changes. */
export interface View {
  readonly element: HTMLElement;
  dispose(): void;
}

/** Everything a view may ask of the page shell. */
export interface Shell {
  navigate(path: string): void;
  /** An API call answered 401: show the login form, then come back. */
  authRequired(): void;
  onStudiesChanged(listener: (studies: ReadonlySet<string>) => void): () => void;
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function errorBox(err: unknown): HTMLElement {
  return h('div', { class: 'error-box', attrs: { role: 'alert' } }, errorMessage(err));
}

/** A read refused for what it asks (FINAL_STATUSES): asking again would get the same answer. */
export const isFinalRefusal = (err: unknown): boolean => err instanceof ApiError && FINAL_STATUSES.has(err.status);

/** What a view shows under an error it will ask again after `delayMs` (backoffDelayMs). */
export function retryNotice(delayMs: number): HTMLElement {
  return h('p', { class: 'muted', attrs: { 'data-retry-notice': '' } }, `Trying again in ${Math.round(delayMs / 1000)} s.`);
}

/** A debounced call, and a way to drop the call it has pending (a view's dispose() must: see debounce). */
export interface Debounced {
  (): void;
  cancel(): void;
}

/**
 * Calls `fn` at most once per `ms`, trailing: a burst of events costs one refresh. A view cancels it when disposed,
 * or the pending call runs on a view nobody sees (and a 401 there shows the login form over the next view).
 */
export function debounce(fn: () => void, ms: number): Debounced {
  let timer: number | undefined;
  const call = (): void => {
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
  return Object.assign(call, {
    cancel: (): void => {
      window.clearTimeout(timer);
      timer = undefined;
    },
  });
}
