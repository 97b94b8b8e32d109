import { countAnswered } from './stow-answer';

const item = (uid?: string): Record<string, unknown> => (uid === undefined ? {} : { '00081155': { vr: 'UI', Value: [uid] } });
const answer = (stored: Array<string | undefined>, failed: Array<string | undefined> = []): unknown => ({
  '00081199': { vr: 'SQ', Value: stored.map(item) },
  '00081198': { vr: 'SQ', Value: failed.map(item) },
});

describe('countAnswered: a batch counted by the instances its answer names', () => {
  test('counts an instance listed twice once, and the one left out as neither stored nor failed', () => {
    expect(countAnswered(['1.1', '1.2'], answer(['1.1', '1.1']))).toEqual({ stored: 1, failed: 0 });
  });

  test('counts a failure listed twice once', () => {
    expect(countAnswered(['1.1', '1.2', '1.3'], answer(['1.1'], ['1.2', '1.2']))).toEqual({ stored: 1, failed: 1 });
  });

  test('counts an instance listed both stored and failed as stored only', () => {
    expect(countAnswered(['1.1', '1.2'], answer(['1.1'], ['1.1']))).toEqual({ stored: 1, failed: 0 });
  });

  test('matches items naming no instance of the batch, as stored, only against files whose UID could not be read', () => {
    expect(countAnswered(['1.1', undefined], answer(['9.9', '9.8']))).toEqual({ stored: 1, failed: 0 });
  });

  test('counts a failure naming no instance against a file not otherwise counted', () => {
    expect(countAnswered(['1.1', '1.2'], answer(['1.1'], [undefined, undefined]))).toEqual({ stored: 1, failed: 1 });
  });
});
