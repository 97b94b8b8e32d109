import type { Request, Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import { checkPngHeader, componentAreas, maskToPng, pngToModelInput, type SegmentationModel } from '@mipseg/shared/inference';
import { readLimitedBody } from './request-body';
import { maskToOverlayPng } from './seg-overlay';
import type { SegmentMipResponse } from './worklist-types';

/** Largest upload: DM i AI MIPs are about 400 × 1000 grey PNGs of well under 1 MB. */
export const MAX_MIP_PNG_BYTES = 8 * 1024 * 1024;

/**
 * Most pixels an upload may declare: five times a DM i AI MIP. Decoding costs about 55 bytes a pixel (RGBA, the
 * float input, the network's tensors), so a 72 KB PNG declaring 4096 × 4096 would cost about 0.9 GB.
 */
export const MAX_MIP_PIXELS = 2 * 1024 * 1024;

/** Uploads that may wait for the model, each holding its PNG undecoded (at most MAX_MIP_PNG_BYTES); more get 503. */
export const MAX_WAITING_SEGMENTATIONS = 4;

/** The shared header check (signature, size, no interlacing), then this route's own pixel budget. */
function checkUploadHeader(bytes: Buffer): void {
  const { width, height } = checkPngHeader(bytes);
  if (width * height > MAX_MIP_PIXELS) {
    throw new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `image of ${width} × ${height} pixels (at most ${MAX_MIP_PIXELS})`);
  }
}

/** A place among the requests waiting for the model, taken before the body is read (LazyModel.reserve). */
export interface ModelTurn {
  /** Runs `work` when the model is free; the place is given up when it starts. */
  run<T>(work: (model: SegmentationModel) => Promise<T>): Promise<T>;
  /** Gives the place up unused (the body could not be read, or was refused). Safe to call more than once. */
  cancel(): void;
}

/**
 * One model, loaded on first use and kept; requests run one at a time (one ONNX session, bounded memory), and at
 * most `maxWaiting` wait their turn, counted from before their bodies are read: beyond that they are refused, so a
 * burst of uploads, slow ones included, cannot pile up in memory.
 */
export class LazyModel {
  private model: Promise<SegmentationModel> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly load: () => Promise<SegmentationModel>, private readonly maxWaiting = MAX_WAITING_SEGMENTATIONS) {}

  /** Takes a place among those waiting; throws MIPSEG_BUSY at once when `maxWaiting` already wait. */
  reserve(): ModelTurn {
    if (this.waiting >= this.maxWaiting) throw new MipsegError('MIPSEG_BUSY', `${this.waiting} images are waiting for the model`);
    this.waiting++;
    let held = true;
    const giveBack = (): void => {
      if (held) this.waiting--;
      held = false;
    };
    return {
      run: (work) => {
        if (!held) return Promise.reject(new Error('this turn was given up'));
        return this.enqueue(work, giveBack);
      },
      cancel: giveBack,
    };
  }

  /** Runs `work` when the model is free; throws MIPSEG_BUSY at once when `maxWaiting` requests already wait. */
  run<T>(work: (model: SegmentationModel) => Promise<T>): Promise<T> {
    return this.reserve().run(work);
  }

  private enqueue<T>(work: (model: SegmentationModel) => Promise<T>, started: () => void): Promise<T> {
    this.model ??= this.load();
    const model = this.model;
    // A failed load is not cached: the next request tries again.
    model.catch(() => {
      if (this.model === model) this.model = undefined;
    });
    const next = this.queue.then(async () => {
      started();
      return work(await model);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async release(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    if (model) await (await model.catch(() => undefined))?.release();
  }
}

/** POST /api/segment-mip: a DM i AI style MIP PNG in, the tumour mask (and an overlay of it) out. */
export function segmentMipHandler(model: LazyModel) {
  return async (req: Request, res: Response): Promise<void> => {
    const type = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'image/png') throw new MipsegError('MIPSEG_UNSUPPORTED_MEDIA_TYPE', `${type || 'no Content-Type'} (send image/png)`);
    const turn = model.reserve();
    let bytes: Buffer;
    try {
      bytes = await readLimitedBody(req, MAX_MIP_PNG_BYTES);
      checkUploadHeader(bytes);
    } catch (err) {
      turn.cancel();
      throw err;
    }
    const response = await turn.run(async (m): Promise<SegmentMipResponse> => {
      // Decoded only now, when the model is ours: waiting requests hold their compressed PNG, not its pixels.
      const started = performance.now();
      const image = pngToModelInput(bytes);
      const { mask } = await m.segment(image.data, image.width, image.height);
      const areas = componentAreas(mask, image.width, image.height);
      return {
        width: image.width, height: image.height, lesionCount: areas.length, tumourPixels: areas.reduce((a, b) => a + b, 0),
        modelName: m.manifest.name, modelVersion: m.manifest.version, elapsedMs: Math.round(performance.now() - started),
        maskPng: maskToPng(mask, image.width, image.height).toString('base64'),
        overlayPng: maskToOverlayPng(mask, image.width, image.height).toString('base64'),
      };
    });
    res.set('Cache-Control', 'no-store').json(response);
  };
}
