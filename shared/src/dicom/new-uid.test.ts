import { newUid } from './new-uid';
import { isValidUid } from './uid';

describe('newUid', () => {
  test('returns a valid 2.25 UID whose decimal part has no leading zero', () => {
    for (let i = 0; i < 200; i++) {
      const uid = newUid();
      expect(isValidUid(uid)).toBe(true);
      expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(uid.length).toBeLessThanOrEqual(44);
    }
  });

  test('returns a different UID on every call', () => {
    const uids = new Set(Array.from({ length: 1000 }, () => newUid()));
    expect(uids.size).toBe(1000);
  });
});
