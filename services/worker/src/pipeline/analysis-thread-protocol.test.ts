import { MipsegError } from '@mipseg/shared/errors';
import { asBuffer, prepareTransfer, rebuildError, serializeError } from './analysis-thread-protocol';

/** What crosses a thread boundary: only what structured cloning keeps. */
function crossThreads<T>(value: T): T {
  return structuredClone(value);
}

describe('errors across the thread boundary', () => {
  test('a catalogue error arrives with its code, message and HTTP status, the thread\'s stack as its cause', () => {
    const original = new MipsegError('MIPSEG_VOLUME_INVALID', 'gap: 1 slice(s) missing');
    const rebuilt = rebuildError(crossThreads(serializeError(original)));
    expect(rebuilt).toBeInstanceOf(MipsegError);
    expect({ code: rebuilt.code, message: rebuilt.message, httpStatus: rebuilt.httpStatus })
      .toEqual({ code: original.code, message: original.message, httpStatus: 422 });
    expect((rebuilt.cause as Error).stack).toBe(original.stack);
  });

  test('any other error arrives as MIPSEG_INTERNAL with its message', () => {
    const rebuilt = rebuildError(crossThreads(serializeError(new TypeError('x is not a function'))));
    expect({ code: rebuilt.code, message: rebuilt.message }).toEqual({ code: 'MIPSEG_INTERNAL', message: 'internal error: x is not a function' });
  });

  test('a code this side does not know arrives as MIPSEG_INTERNAL with the thread\'s message', () => {
    const rebuilt = rebuildError({ code: 'MIPSEG_FROM_THE_FUTURE', detail: 'd', message: 'future: d' });
    expect({ code: rebuilt.code, message: rebuilt.message }).toEqual({ code: 'MIPSEG_INTERNAL', message: 'internal error: future: d' });
  });
});

describe('moving instance bytes to a thread', () => {
  test('a view that owns its whole buffer moves; a slice of a shared buffer is copied', () => {
    const owner = new Uint8Array([1, 2, 3]);
    const body = Buffer.from([9, 8, 7, 6]);
    const part = body.subarray(1, 3);
    const { views, transfer } = prepareTransfer([owner, part]);
    expect(transfer).toEqual([owner.buffer]);
    expect(views[0]).toBe(owner);
    expect(views[1]?.buffer).not.toBe(body.buffer);
    expect([...(views[1] ?? [])]).toEqual([8, 7]);
  });

  test('a view listed twice moves once and is copied the second time (a buffer can be moved only once)', () => {
    const owner = new Uint8Array([1, 2]);
    const { views, transfer } = prepareTransfer([owner, owner]);
    expect(transfer).toHaveLength(1);
    expect(views[1]).not.toBe(owner);
    const received = crossThreads({ views });
    expect(received.views.map((v) => [...v])).toEqual([[1, 2], [1, 2]]);
  });

  test('a received view becomes a Buffer over the same memory', () => {
    const bytes = new Uint8Array([0, 1, 2, 3]).subarray(1);
    const buffer = asBuffer(bytes);
    expect(buffer.buffer).toBe(bytes.buffer);
    expect([...buffer]).toEqual([1, 2, 3]);
  });
});
