import { warningHeaderValue } from './warning-header';

describe('warningHeaderValue', () => {
  test('keeps printable ASCII and makes every other character a ?, so setHeader cannot refuse it', () => {
    expect(warningHeaderValue('part 1: a\x01b\r\nc\tdé€😀')).toBe('299 mipseg "part 1: a?b??c?d???"');
  });

  test('keeps the quoted-string closed: a " becomes \' and a backslash is escaped', () => {
    expect(warningHeaderValue('say "hi" \\ISO 2022 IR 87')).toBe('299 mipseg "say \'hi\' \\\\ISO 2022 IR 87"');
  });
});
