import { dicomTextDecoder, usesCodeExtensions } from './character-sets';

const ESC = '\x1b';
/** A value as stored: each character one byte (the escape sequences and 7-bit codes are plain ASCII). */
const bytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/ /g, ''), 'hex'));

describe('dicomTextDecoder', () => {
  // The person names of PS3.5 Annex H (Japanese) and I (Korean), byte for byte as the standard gives them.
  test.each([
    ['\\ISO 2022 IR 87', bytes(`Yamada^Tarou=${ESC}$B;3ED${ESC}(B^${ESC}$BB@O:${ESC}(B=${ESC}$B$d$^$@${ESC}(B^${ESC}$B$?$m$&${ESC}(B`),
      'Yamada^Tarou=山田^太郎=やまだ^たろう'],
    ['ISO 2022 IR 13\\ISO 2022 IR 87',
      Uint8Array.from([...hex('d4cfc0de 5e c0dbb3 3d'), ...bytes(`${ESC}$B;3ED${ESC}(J^${ESC}$BB@O:${ESC}(J=${ESC}$B$d$^$@${ESC}(J^${ESC}$B$?$m$&${ESC}(J`)]),
      'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'],
    ['\\ISO 2022 IR 149',
      Uint8Array.from([...bytes(`Hong^Gildong=${ESC}$)C`), ...hex('fbf3'), ...bytes(`^${ESC}$)C`), ...hex('d1ced4d7'),
        ...bytes(`=${ESC}$)C`), ...hex('c8ab'), ...bytes(`^${ESC}$)C`), ...hex('b1e6b5bf')]),
      'Hong^Gildong=洪^吉洞=홍^길동'],
    ['ISO 2022 IR 6\\ISO 2022 IR 87', bytes(`${ESC}$B$d$^$@${ESC}(B^${ESC}$B$?$m$&${ESC}(B`), 'やまだ^たろう'],
  ])('decodes a person name in %s', (characterSet, value, expected) => {
    expect(dicomTextDecoder(characterSet).decode(value, 'PN')).toBe(expected);
  });

  test.each([
    ['ISO_IR 100', hex('42 75 63 5e 4a e9 72 f4 6d 65'), 'Buc^Jérôme'],
    ['ISO_IR 126', hex('c4 e9 ef ed f5 f3 e9 ef f2'), 'Διονυσιος'],
    ['ISO_IR 127', hex('e2 c8 c7 e6 ea 5e e4 e6 d2 c7 d1'), 'قباني^لنزار'],
    ['ISO_IR 138', hex('f9 f8 e5 ef 5e e3 e1 e5 f8 e4'), 'שרון^דבורה'],
    ['ISO_IR 144', hex('bb ee da 63 65 dc d1 79 70 d3'), 'Люкceмбypг'],
    ['ISO_IR 192', hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d e7 8e 8b 5e e5 b0 8f e6 9d b1 3d'), 'Wang^XiaoDong=王^小東='],
    ['GB18030', hex('57 61 6e 67 5e 58 69 61 6f 44 6f 6e 67 3d cd f5 5e d0 a1 b6 ab 3d'), 'Wang^XiaoDong=王^小东='],
    ['', bytes('DOE^JOHN'), 'DOE^JOHN'],
  ])('decodes a single character set: %s', (characterSet, value, expected) => {
    expect(dicomTextDecoder(characterSet).decode(value, 'PN')).toBe(expected);
  });

  test('goes back to the first character set at a value delimiter, so each value of a multi-valued LO decodes alone', () => {
    const value = bytes(`${ESC}$B;3ED${ESC}(B\\${ESC}$BB@O:${ESC}(B\\plain`);
    expect(dicomTextDecoder('\\ISO 2022 IR 87').decode(value, 'LO')).toBe('山田\\太郎\\plain');
  });

  test('keeps a lost escape sequence to one name component', () => {
    // The encoder forgot ESC ( B before '^': the decoder still returns to ASCII there.
    const value = Uint8Array.from([...bytes(`${ESC}$)C`), ...hex('c8ab'), ...bytes('^Gildong')]);
    expect(dicomTextDecoder('\\ISO 2022 IR 149').decode(value, 'PN')).toBe('홍^Gildong');
  });

  test('decodes text of other VRs (CS, UI, DS) as the default repertoire whatever the character set', () => {
    expect(dicomTextDecoder('ISO_IR 192').decode(bytes('1.2.840.10008'), 'UI')).toBe('1.2.840.10008');
    expect(dicomTextDecoder('\\ISO 2022 IR 87').decode(bytes('ORIGINAL\\PRIMARY'), 'CS')).toBe('ORIGINAL\\PRIMARY');
  });

  test('takes the first term of a set without code extensions: a trailing backslash leaves ISO_IR 192 UTF-8', () => {
    expect(dicomTextDecoder('ISO_IR 192\\').decode(Buffer.from('Müller^Jürgen', 'utf8'), 'PN')).toBe('Müller^Jürgen');
  });

  test('decodes an unknown term as Latin-1 instead of refusing the instance', () => {
    expect(dicomTextDecoder('ISO_IR 999').decode(hex('4a e9'), 'LO')).toBe('Jé');
  });
});

describe('usesCodeExtensions', () => {
  test('is true only where a value names an ISO 2022 term', () => {
    expect(usesCodeExtensions('\\ISO 2022 IR 87')).toBe(true);
    expect(usesCodeExtensions('ISO 2022 IR 100')).toBe(true);
    expect(usesCodeExtensions('ISO_IR 100')).toBe(false);
    expect(usesCodeExtensions('')).toBe(false);
  });
});
