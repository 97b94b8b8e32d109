import type { Request } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import { senderGoneError } from '../sender-gone';

/** Reads a request body into memory, refusing it (413) as soon as it passes `maxBytes`. */
export async function readLimitedBody(req: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `body of ${declared} bytes (at most ${maxBytes})`);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) throw new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `body of more than ${maxBytes} bytes`);
      chunks.push(buf);
    }
  } catch (err) {
    throw senderGoneError(err, req) ?? err;
  }
  return Buffer.concat(chunks, total);
}
