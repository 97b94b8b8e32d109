import { isMipsegError } from '../errors';
import { readMultipart, type PartSink } from './multipart-reader';

/** Reads `chunks` under `limits`; returns what each part's sink saw and the error that stopped the body, if any. */
async function read(chunks: readonly string[], limits: { maxBodyBytes: number; maxParts: number }) {
  const parts: { body: string; ended: boolean; aborted: boolean }[] = [];
  const onPart = (): PartSink => {
    const part = { body: '', ended: false, aborted: false };
    parts.push(part);
    return {
      write: (chunk) => {
        part.body += chunk.toString('latin1');
        return Promise.resolve();
      },
      end: () => {
        part.ended = true;
        return Promise.resolve();
      },
      abort: () => {
        part.aborted = true;
        return Promise.resolve();
      },
    };
  };
  let error: unknown;
  try {
    await readMultipart(chunks.map((c) => Buffer.from(c, 'latin1')), 'b', limits, onPart);
  } catch (err) {
    error = err;
  }
  return { parts, error };
}

describe('readMultipart at its limits', () => {
  test('a part whose closing boundary arrives in the chunk that crosses MAX_REQUEST_BYTES is complete', async () => {
    // The first part's closing boundary opens the second chunk, which runs past the 40-byte limit.
    const { parts, error } = await read(['--b\r\n\r\nfirst-part', '\r\n--b\r\n\r\nsecond-part-that-runs-past-the-limit\r\n--b--\r\n'],
      { maxBodyBytes: 40, maxParts: 10 });
    expect(isMipsegError(error, 'MIPSEG_PAYLOAD_TOO_LARGE')).toBe(true);
    expect(parts).toEqual([
      { body: 'first-part', ended: true, aborted: false },
      { body: expect.stringMatching(/^second/), ended: false, aborted: true },
    ]);
  });

  test('the parts before MAX_PARTS_PER_REQUEST have ended when it throws', async () => {
    const { parts, error } = await read(['--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--\r\n'], { maxBodyBytes: 1000, maxParts: 2 });
    expect(isMipsegError(error, 'MIPSEG_PAYLOAD_TOO_LARGE')).toBe(true);
    expect(parts.map((p) => [p.body, p.ended])).toEqual([['one', true], ['two', true]]);
  });
});
