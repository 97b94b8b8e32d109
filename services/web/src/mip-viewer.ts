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
  const failed = (message: string): void => { errors.append(h('div', { class: 'error-box', attrs: { role: 'alert' } }, message)); };
  overlay.addEventListener('error', () => {
    overlayFailed = true;
    const box = toggle.querySelector('input');
    if (box) Object.assign(box, { disabled: true, checked: false });
    opacity.disabled = true;
    legend.hidden = true;
    apply();
    failed('Segmentation overlay could not be loaded');
  }, { once: true });
  mip.addEventListener('error', () => failed('MIP could not be loaded'), { once: true });
  apply();
  return h('figure', { class: 'mip-viewer' }, stack, errors, controls);
}
