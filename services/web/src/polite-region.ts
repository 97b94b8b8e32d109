import { h } from './dom.js';

/**
 * How long the live region stays empty before new words: long enough for the browser to pass the emptied region to a
 * screen reader, which otherwise hears nothing when the words are those it holds already (a second run done, too).
 */
const ANNOUNCE_AFTER_MS = 100;

/** A polite live region (visually hidden) and how words are said in it. */
export interface PoliteRegion {
  readonly element: HTMLElement;
  /** Empties the region, then puts `text` in it ANNOUNCE_AFTER_MS later, so that the same words again are read out. */
  say(text: string): void;
  /** Drops words not yet said: the view is closed. */
  dispose(): void;
}

/** The worklist's and the study view's announcements of AI state changes. */
export function politeRegion(): PoliteRegion {
  const element = h('div', { class: 'sr-only', attrs: { role: 'status', 'aria-live': 'polite', 'data-ai-announcement': '' } });
  let timer: number | undefined;
  return {
    element,
    say(text) {
      element.textContent = '';
      window.clearTimeout(timer);
      timer = window.setTimeout(() => { element.textContent = text; }, ANNOUNCE_AFTER_MS);
    },
    dispose() {
      window.clearTimeout(timer);
    },
  };
}
