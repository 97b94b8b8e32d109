import { parseWorklistSearch, worklistHref, worklistPath } from './worklist-url';

/** sessionStorage as the browser has it, for worklistHref. */
function storing(value: string | null): void {
  Object.defineProperty(globalThis, 'sessionStorage', { configurable: true, value: { getItem: () => value } });
}

describe('the worklist URL', () => {
  afterEach(() => {
    Reflect.deleteProperty(globalThis, 'sessionStorage');
  });

  test('holds the filter and the offset, and is `/` without either', () => {
    expect(worklistPath({}, 0)).toBe('/');
    expect(worklistPath({ patient: 'DOE^JANE', state: 'failed' }, 50)).toBe('/?patient=DOE%5EJANE&state=failed&offset=50');
    expect(parseWorklistSearch('?patient=DOE%5EJANE&state=failed&offset=50')).toEqual({ filter: { patient: 'DOE^JANE', state: 'failed' }, offset: 50 });
  });

  test('leaves out unknown keys, empty values and an offset that is not a count', () => {
    expect(parseWorklistSearch('?colour=red&accession=&offset=-5')).toEqual({ filter: {}, offset: 0 });
    expect(parseWorklistSearch('offset=abc').offset).toBe(0);
    expect(parseWorklistSearch('offset=12.7').offset).toBe(12);
  });

  test('gives a date in DICOM form (YYYYMMDD) as the date box shows it, so the filter applied is the filter shown', () => {
    expect(parseWorklistSearch('?from=20240101&to=2024-03-31').filter).toEqual({ from: '2024-01-01', to: '2024-03-31' });
    expect(parseWorklistSearch('?patient=20240101').filter).toEqual({ patient: '20240101' });
  });

  test('the way back is the remembered worklist path, rebuilt so that it can only lead to the worklist', () => {
    storing('/?patient=ROSSI&offset=50');
    expect(worklistHref()).toBe('/?patient=ROSSI&offset=50');
    storing('//elsewhere.example/?patient=ROSSI');
    expect(worklistHref()).toBe('/?patient=ROSSI');
    storing(null);
    expect(worklistHref()).toBe('/');
  });
});
