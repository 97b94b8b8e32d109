import { isMipsegError } from '../errors';
import { negotiate } from './media-type';

const chosen = (accept: string | undefined, offers: readonly string[]): string => {
  try {
    return negotiate(accept, offers).offer;
  } catch (err) {
    if (isMipsegError(err, 'MIPSEG_NOT_ACCEPTABLE')) return '406';
    throw err;
  }
};
const RENDERED = ['image/png', 'image/jpeg'] as const;

describe('Accept negotiation (RFC 9110 12.5.1)', () => {
  test('an offer takes the q of the most specific range that names it; the server breaks ties', () => {
    expect(chosen('image/*, image/png;q=0.1', RENDERED)).toBe('image/jpeg');
    expect(chosen('image/png;q=0.5, image/jpeg', RENDERED)).toBe('image/jpeg');
    expect(chosen('image/*', RENDERED)).toBe('image/png');
    expect(chosen(undefined, RENDERED)).toBe('image/png');
    expect(chosen('*/*;q=0.8, image/jpeg;q=0.9', RENDERED)).toBe('image/jpeg');
  });

  test('q=0 refuses what it names, however general the range that would allow it', () => {
    expect(chosen('image/png;q=0, */*', RENDERED)).toBe('image/jpeg');
    expect(chosen('image/png;q=0', RENDERED)).toBe('406');
    expect(chosen('image/*;q=0, */*', RENDERED)).toBe('406');
    expect(chosen('text/html', RENDERED)).toBe('406');
    expect(chosen('image/png;q=abc, */*', RENDERED)).toBe('image/png'); // an unreadable q is ignored, not a refusal
  });

  test('a check can veto an entry, and the next best entry for that offer counts', () => {
    const offers = ['multipart/related'] as const;
    const accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.50, ' +
      'multipart/related; type="application/octet-stream"; transfer-syntax=*;q=0.5';
    const { entry } = negotiate(accept, offers, (e) => e.params['transfer-syntax'] === '*');
    expect(entry.params['transfer-syntax']).toBe('*');
  });
});
