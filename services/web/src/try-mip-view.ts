import { AuthRequiredError, segmentMip } from './api.js';
import type { SegmentMipResponse } from './api-types.js';
import { h, replaceChildren } from './dom.js';
import { mipViewer } from './mip-viewer.js';
import { errorBox, type Shell, type View } from './view.js';

const MAX_BYTES = 8 * 1024 * 1024;

function dataUrl(base64: string): string {
  return `data:image/png;base64,${base64}`;
}

function resultPanel(file: File, imageUrl: string, r: SegmentMipResponse): HTMLElement {
  const maskName = file.name.replace(/\.png$/i, '') + '-mask.png';
  return h('div', { class: 'try-result' },
    h('div', { class: 'try-images' },
      h('figure', {}, h('img', { class: 'try-input', attrs: { src: imageUrl, alt: 'Uploaded MIP' } }), h('figcaption', {}, 'Uploaded image')),
      h('div', {}, mipViewer({ mipUrl: imageUrl, overlayUrl: dataUrl(r.overlayPng), alt: 'Uploaded MIP with segmentation', invertible: false }),
        h('p', { class: 'sub center' }, 'With the segmentation'))),
    h('section', { class: 'card' }, h('h2', {}, 'Result'),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Lesions'), h('dd', {}, h('strong', { class: 'lesion-count' }, r.lesionCount === 0 ? 'none found' : String(r.lesionCount))),
        h('dt', {}, 'Tumour pixels'), h('dd', {}, String(r.tumourPixels)),
        h('dt', {}, 'Image'), h('dd', {}, `${r.width} × ${r.height} px`),
        h('dt', {}, 'Model'), h('dd', {}, `${r.modelName} ${r.modelVersion}`),
        h('dt', {}, 'Time'), h('dd', {}, `${r.elapsedMs} ms`)),
      h('a', { class: 'btn primary', attrs: { href: dataUrl(r.maskPng), download: maskName, 'data-download': 'mask' } }, 'Download mask (PNG)')));
}

/** "Try a MIP image": upload a DM i AI style MIP PNG, see the segmentation beside it, download the mask. */
export function tryMipView(shell: Shell): View {
  const output = h('div', { class: 'try-output' });
  let objectUrl: string | undefined;
  let disposed = false;
  /** The newest image chosen: an answer for an earlier one, arriving later, must not replace its result. */
  let latest = 0;

  async function run(file: File): Promise<void> {
    const ticket = ++latest;
    if (file.type && file.type !== 'image/png') return replaceChildren(output, errorBox(new Error(`${file.name} is not a PNG image.`)));
    if (file.size > MAX_BYTES) return replaceChildren(output, errorBox(new Error(`${file.name} is larger than 8 MB.`)));
    replaceChildren(output, h('p', { class: 'muted' }, `Segmenting ${file.name}…`));
    try {
      const result = await segmentMip(file);
      // The reader left while it ran (nothing to show, and no object URL to leave behind), or chose another image.
      if (disposed || ticket !== latest) return;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(file);
      replaceChildren(output, resultPanel(file, objectUrl, result));
    } catch (err) {
      if (disposed || ticket !== latest) return;
      if (err instanceof AuthRequiredError) return shell.authRequired();
      replaceChildren(output, errorBox(err));
    }
  }

  const fileInput = h('input', { attrs: { type: 'file', accept: 'image/png', name: 'mip', id: 'mip-file' },
    on: { change: () => { const f = fileInput.files?.[0]; if (f) void run(f); } } });
  const drop = h('label', { class: 'drop-zone', attrs: { for: 'mip-file' },
    on: {
      dragover: (e) => { e.preventDefault(); drop.classList.add('over'); },
      dragleave: () => drop.classList.remove('over'),
      drop: (e) => { e.preventDefault(); drop.classList.remove('over'); const f = e.dataTransfer?.files[0]; if (f) void run(f); },
    } },
  h('strong', {}, 'Choose a MIP image'), h('span', { class: 'sub' }, 'or drop a PNG here (DM i AI style: coronal MIP, uptake dark on white; up to 8 MB)'), fileInput);

  const element = h('section', { class: 'try' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Try a MIP image')),
    h('p', { class: 'muted intro' }, 'Runs the segmentation model on one MIP image. Nothing is stored: the image and its mask stay in this browser.'),
    drop, output);
  return { element, dispose: () => {
    disposed = true;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  } };
}
