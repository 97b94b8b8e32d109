/**
 * Whether the page is receiving live updates, said in words as well as by the dot's colour: a reader who cannot
 * tell green from grey, or who uses a screen reader, must know when the list has stopped following the server.
 * The event stream sets it (body[data-live]); every indicator on the page shows it.
 */
const WORDS = {
  on: { text: 'Live', title: 'Updates arrive without reloading' },
  off: { text: 'Not updating', title: 'The live updates are interrupted; reconnecting. Reload to see the newest state.' },
  connecting: { text: 'Connecting…', title: 'Opening the live updates' },
} as const;

type LiveState = keyof typeof WORDS;

function currentState(): LiveState {
  const live = document.body.dataset['live'];
  return live === 'on' || live === 'off' ? live : 'connecting';
}

function show(indicator: HTMLElement, state: LiveState): void {
  const words = WORDS[state];
  const text = indicator.querySelector('.live-text');
  if (text) text.textContent = words.text;
  indicator.title = words.title;
}

/** A new indicator, showing the current state. */
export function liveIndicator(): HTMLElement {
  const indicator = document.createElement('span');
  indicator.className = 'live-indicator';
  indicator.setAttribute('role', 'status');
  const dot = document.createElement('span');
  dot.className = 'dot';
  dot.setAttribute('aria-hidden', 'true');
  const text = document.createElement('span');
  text.className = 'live-text';
  indicator.append(dot, text);
  show(indicator, currentState());
  return indicator;
}

/** Records whether live updates arrive, and shows it on every indicator. */
export function setLive(on: boolean): void {
  const state: LiveState = on ? 'on' : 'off';
  document.body.dataset['live'] = state;
  for (const indicator of document.querySelectorAll<HTMLElement>('.live-indicator')) show(indicator, state);
}
