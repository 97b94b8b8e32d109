import { runInNewContext } from 'node:vm';
import { bodyExcerpt } from './stow-failure';

/**
 * Runs `fn` and throws if it is still running after `seconds`: a guard against a hang, not a timing. Jest's own timeout
 * cannot end a function that never yields; node:vm's can.
 */
function withinSeconds<T>(seconds: number, fn: () => T): T {
  return runInNewContext('fn()', { fn }, { timeout: seconds * 1000 }) as T;
}

describe('the excerpt of a body that is not DICOM JSON', () => {
  test('reads as one line of a proxy error page\'s text, without its markup', () => {
    const page = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n'
      + '<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n';
    expect(bodyExcerpt(page, 'text/html')).toBe('502 Bad Gateway 502 Bad Gateway nginx/1.18.0 (Ubuntu)');
    // A "<" that no ">" follows is text, as is markup in a body that does not say it is HTML.
    expect(bodyExcerpt('<p>quota: used < 100%', 'text/html; charset=utf-8')).toBe('quota: used < 100%');
    expect(bodyExcerpt('<p>a < b</p>', 'text/plain')).toBe('<p>a < b</p>');
  });

  test('is cut to 200 characters', () => {
    expect(bodyExcerpt(`<p>${'x'.repeat(300)}</p>`, 'text/html')).toBe(`${'x'.repeat(200)}…`);
  });

  test('comes back at once from a page of 150,000 unclosed "<" (the thread is the gateway\'s)', () => {
    expect(withinSeconds(2, () => bodyExcerpt('<'.repeat(150_000), 'text/html'))).toBe(`${'<'.repeat(200)}…`);
    expect(withinSeconds(2, () => bodyExcerpt('<a'.repeat(500_000), 'text/html'))).toMatch(/^(<a){100}…$/);
  });
});
