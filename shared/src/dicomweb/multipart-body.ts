import { MipsegError } from '../errors';
import { parseMediaType } from './media-type';
import { readMultipart } from './multipart-reader';

/** Splits a whole multipart response (a WADO-RS retrieve) into its parts' bodies, in order. */
export async function readMultipartBody(contentType: string, body: Buffer): Promise<Buffer[]> {
  const boundary = parseMediaType(contentType).params['boundary'];
  if (!boundary) throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', `no boundary in ${contentType}`);
  const parts: Buffer[] = [];
  await readMultipart([body], boundary, { maxBodyBytes: Number.MAX_SAFE_INTEGER, maxParts: Number.MAX_SAFE_INTEGER }, () => {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => {
        chunks.push(Buffer.from(chunk));
        return Promise.resolve();
      },
      end: () => {
        parts.push(Buffer.concat(chunks));
        return Promise.resolve();
      },
      abort: () => Promise.resolve(),
    };
  });
  return parts;
}
