import { isMipsegError } from '@mipseg/shared/errors';
import { jsonOrXml } from './json-or-xml';

describe('jsonOrXml', () => {
  test.each([
    [undefined, 'application/dicom+json'],
    ['*/*', 'application/dicom+json'],
    ['application/*', 'application/dicom+json'],
    ['application/json', 'application/dicom+json'],
    ['application/dicom+json;q=0, */*', 'application/json'],
    ['application/dicom+json;q=0, application/json', 'application/json'],
    ['*/*;q=0, application/json', 'application/json'],
    ['application/*;q=0, application/dicom+json', 'application/dicom+json'],
    ['multipart/related; type="application/dicom+xml"', 'xml'],
  ])('Accept %s is answered as %s', (accept, expected) => {
    expect(jsonOrXml(accept)).toBe(expected);
  });

  test('refuses (406) an Accept that excludes both JSON types and names no XML', () => {
    let code: string | undefined;
    try {
      jsonOrXml('application/dicom+json;q=0, application/json;q=0');
    } catch (err) {
      code = isMipsegError(err) ? err.code : String(err);
    }
    expect(code).toBe('MIPSEG_NOT_ACCEPTABLE');
  });
});
