import { MipsegError } from '../errors';
import { parseMediaType } from './media-type';
import { readMultipart, type PartHeaders } from './multipart-reader';

/** One part of a multipart body: its headers (lower-case names) and its bytes. */
export interface MultipartPart {
  readonly headers: PartHeaders;
  readonly body: Buffer;
}

/** Splits a whole multipart response (a WADO-RS retrieve) into its parts, headers and bytes, in order. */
export async function readMultipartParts(contentType: string, body: Buffer): Promise<MultipartPart[]> {
  const boundary = parseMediaType(contentType).params['boundary'];
  if (!boundary) throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', `no boundary in ${contentType}`);
  const parts: MultipartPart[] = [];
  await readMultipart([body], boundary, { maxBodyBytes: Number.MAX_SAFE_INTEGER, maxParts: Number.MAX_SAFE_INTEGER }, (headers) => {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => {
        chunks.push(Buffer.from(chunk));
        return Promise.resolve();
      },
      end: () => {
        parts.push({ headers, body: Buffer.concat(chunks) });
        return Promise.resolve();
      },
      abort: () => Promise.resolve(),
    };
  });
  return parts;
}

/** Splits a whole multipart response (a WADO-RS retrieve) into its parts' bodies, in order. */
export async function readMultipartBody(contentType: string, body: Buffer): Promise<Buffer[]> {
  return (await readMultipartParts(contentType, body)).map((p) => p.body);
}
