import { backoffDelayMs } from './backoff.js';
import { h } from './dom.js';

export interface MipViewerOptions {
  readonly mipUrl: string;
  readonly overlayUrl: string;
  readonly alt: string;
  /** Offer "Invert": PET MIPs are read inverted (uptake dark on white); a DM i AI PNG already is. */
  readonly invertible: boolean;
}

/** Remembered across studies: a reader sets the overlay once. */
const prefs = { overlay: true, opacity: 0.55, inverted: true };

function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void, name: string): HTMLLabelElement {
  const box = h('input', { attrs: { type: 'checkbox', name }, on: { change: () => onChange(box.checked) } });
  box.checked = checked;
  return h('label', { class: 'toggle' }, box, h('span', {}, label));
}

/** Tries to load a failed image again this many times, after 1, 2 and 4 s, before offering "Reload image". */
const IMAGE_RETRIES = 3;

/**
 * Says in `errors` when `img` fails to load, at once (the reader must not take a missing overlay for "nothing
 * segmented"), and tries again: a 502 while the gateway restarts passes. Once it loads the message goes; after the last
 * try a "Reload image" button stays. `shown` hears whether the image is shown.
 */
function watchImage(img: HTMLImageElement, message: string, errors: HTMLElement, shown: (shown: boolean) => void): void {
  const url = img.getAttribute('src') ?? '';
  let attempts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const next = h('div', { class: 'muted' });
  const entry = h('div', {}, h('div', { class: 'error-box', attrs: { role: 'alert' } }, message), next);
  const reload = (): void => {
    img.removeAttribute('src');
    img.setAttribute('src', url);
  };
  img.addEventListener('error', () => {
    // A view left behind (another study opened) tries no more.
    if (attempts > 0 && !img.isConnected) return;
    shown(false);
    if (!entry.isConnected) errors.append(entry);
    if (attempts < IMAGE_RETRIES) {
      next.replaceChildren('Trying again…');
      timer = setTimeout(reload, backoffDelayMs(attempts++));
      return;
    }
    next.replaceChildren(h('button', { class: 'btn', attrs: { type: 'button', 'data-action': 'reload-image' },
      on: { click: () => { attempts = 0; clearTimeout(timer); reload(); } } }, 'Reload image'));
  });
  img.addEventListener('load', () => {
    entry.remove();
    shown(true);
  });
}

/** The MIP with the tumour mask laid over it: overlay on/off, its opacity, grey scale inverted or not. */
export function mipViewer(options: MipViewerOptions): HTMLElement {
  const mip = h('img', { class: 'mip-image', attrs: { src: options.mipUrl, alt: options.alt, decoding: 'async' } });
  const overlay = h('img', { class: 'mip-overlay', attrs: { src: options.overlayUrl, alt: 'Tumour segmentation', decoding: 'async' } });
  const stack = h('div', { class: 'mip-stack' }, mip, overlay);
  let overlayFailed = false;
  const apply = () => {
    overlay.hidden = overlayFailed || !prefs.overlay;
    overlay.style.opacity = String(prefs.opacity);
    stack.classList.toggle('inverted', options.invertible ? prefs.inverted : false);
  };
  const opacity = h('input', { attrs: { type: 'range', min: '0.1', max: '1', step: '0.05', name: 'opacity', 'aria-label': 'Overlay opacity' },
    on: { input: () => { prefs.opacity = Number(opacity.value); apply(); } } });
  opacity.value = String(prefs.opacity);
  const toggle = checkbox('Segmentation', prefs.overlay, (v) => { prefs.overlay = v; apply(); }, 'overlay');
  const legend = h('span', { class: 'legend' }, h('span', { class: 'swatch' }), 'Tumour (AI)');
  const errors = h('div', { class: 'mip-errors' });
  const controls = h('div', { class: 'mip-controls' },
    toggle,
    h('label', { class: 'range' }, h('span', {}, 'Opacity'), opacity),
    options.invertible ? checkbox('Invert', prefs.inverted, (v) => { prefs.inverted = v; apply(); }, 'invert') : null,
    legend);
  // An image that does not load (401 once the session lapsed, a SEG deleted meanwhile, a 5xx) must say so: a MIP shown
  // without its overlay, toggle and legend still on, reads as "nothing segmented".
  const overlayShown = (shown: boolean): void => {
    overlayFailed = !shown;
    const box = toggle.querySelector('input');
    if (box) Object.assign(box, { disabled: !shown, checked: shown && prefs.overlay });
    opacity.disabled = !shown;
    legend.hidden = !shown;
    apply();
  };
  watchImage(mip, 'MIP could not be loaded', errors, () => undefined);
  watchImage(overlay, 'Segmentation overlay could not be loaded', errors, overlayShown);
  apply();
  return h('figure', { class: 'mip-viewer' }, stack, errors, controls);
}
