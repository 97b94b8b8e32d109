import { MipsegError } from '../errors';

/** Where one part's body goes while it streams in (a temp file for STOW). */
export interface PartSink {
  write(chunk: Buffer): Promise<void>;
  /** The closing boundary was seen: the part is complete. */
  end(): Promise<void>;
  /** The body stopped before the part was complete (client abort, limit): discard what was written. */
  abort(): Promise<void>;
}

export interface MultipartLimits {
  readonly maxBodyBytes: number;
  readonly maxParts: number;
}

export type PartHeaders = Readonly<Record<string, string>>;

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

type State = 'preamble' | 'headers' | 'body' | 'after-boundary' | 'done';

function parseHeaders(block: string): PartHeaders {
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * Streams a multipart body (RFC 2046) part by part without holding it in memory: each part's bytes go to
 * the sink that `onPart` returns as they arrive; only a boundary-length tail is kept between chunks.
 * Returns the number of complete parts. Throws MIPSEG_MULTIPART_MALFORMED / MIPSEG_PAYLOAD_TOO_LARGE; by then the parts
 * before the error have ended (their sinks' `end` returned) and the one in progress is aborted. It iterates `body`
 * with `for await`, which ends (for a stream: destroys) the iterator when it throws; pass a stream's
 * `iterator({ destroyOnReturn: false })` to answer on the same connection.
 */
export async function readMultipart(
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  boundary: string,
  limits: MultipartLimits,
  onPart: (headers: PartHeaders, index: number) => PartSink,
): Promise<number> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let state = 'preamble' as State;
  // A leading CRLF lets the first boundary (which may open the body directly) match the same delimiter.
  let pending: Buffer = Buffer.from(CRLF);
  let received = 0;
  let parts = 0;
  let sink: PartSink | undefined;

  const step = async (): Promise<boolean> => {
    switch (state) {
      case 'preamble': {
        const at = pending.indexOf(delimiter);
        if (at < 0) {
          pending = pending.subarray(Math.max(0, pending.length - delimiter.length));
          return false;
        }
        pending = pending.subarray(at + delimiter.length);
        state = 'after-boundary';
        return true;
      }
      case 'after-boundary': {
        if (pending.length < 2) return false;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          state = 'done';
          return false;
        }
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > 1024) throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', 'garbage after boundary');
          return false;
        }
        pending = pending.subarray(eol + 2);
        state = 'headers';
        return true;
      }
      case 'headers': {
        const end = pending.indexOf(HEADER_END);
        const emptyHeaders = pending.subarray(0, 2).equals(CRLF);
        if (end < 0 && !emptyHeaders) {
          if (pending.length > MAX_HEADER_BYTES) throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', 'part headers too long');
          return false;
        }
        const headerBlock = emptyHeaders ? '' : pending.subarray(0, end).toString('latin1');
        pending = pending.subarray(emptyHeaders ? 2 : end + 4);
        if (++parts > limits.maxParts) throw new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `more than ${limits.maxParts} parts`);
        sink = onPart(parseHeaders(headerBlock), parts - 1);
        state = 'body';
        return true;
      }
      case 'body': {
        const at = pending.indexOf(delimiter);
        if (at < 0) {
          const keep = delimiter.length - 1;
          if (pending.length > keep) {
            await sink?.write(pending.subarray(0, pending.length - keep));
            pending = pending.subarray(pending.length - keep);
          }
          return false;
        }
        if (at > 0) await sink?.write(pending.subarray(0, at));
        pending = pending.subarray(at + delimiter.length);
        const done = sink;
        sink = undefined;
        await done?.end();
        state = 'after-boundary';
        return true;
      }
      case 'done':
        return false;
    }
  };

  try {
    for await (const chunk of body) {
      const room = limits.maxBodyBytes - received;
      received += chunk.length;
      // After the closing boundary only an epilogue may follow: read it to the end rather than break,
      // since leaving the iterator early destroys the request and, with it, the socket for the response.
      if (state !== 'done') {
        // The bytes up to the limit are read first: a part whose closing boundary lies within it is complete
        // (and stored) even when the chunk that carries that boundary runs past the limit.
        const within = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
        pending = pending.length ? Buffer.concat([pending, within]) : within;
        while (await step()) {
          /* consume everything the buffer allows */
        }
      }
      if (received > limits.maxBodyBytes) {
        throw new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `body over ${limits.maxBodyBytes} bytes`);
      }
    }
  } catch (err) {
    await sink?.abort();
    throw err;
  }
  if (state !== 'done') {
    await sink?.abort();
    throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', parts === 0 ? 'no part found (boundary mismatch?)' : 'body ended before the closing boundary');
  }
  return parts;
}
