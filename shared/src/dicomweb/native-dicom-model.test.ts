import { toNativeDicomModelXml } from './native-dicom-model';

/** The document's body between the root element's tags. */
function body(xml: string): string {
  const match = /<NativeDicomModel xmlns="http:\/\/dicom\.nema\.org\/PS3\.19\/models\/NativeDICOM">(.*)<\/NativeDicomModel>/s.exec(xml);
  if (!match) throw new Error(`no NativeDicomModel root in ${xml}`);
  return match[1] as string;
}

describe('DICOM JSON to PS3.19 Native DICOM Model', () => {
  test('writes the XML declaration and the NativeDicomModel root in its namespace', () => {
    const xml = toNativeDicomModelXml({});
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel ')).toBe(true);
    expect(body(xml)).toBe('');
  });

  test('writes a STOW response: keywords, numbered values, sequence items, tags in ascending order', () => {
    const xml = toNativeDicomModelXml({
      '00081199': { vr: 'SQ', Value: [{
        '00081155': { vr: 'UI', Value: ['1.2.3.4'] },
        '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.128'] },
      }] },
      '00081190': { vr: 'UR', Value: ['http://h/dicomweb/studies/1.2.3'] },
      '00081198': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI' }, '00081197': { vr: 'US', Value: [0xc000] } }] },
    });
    expect(body(xml)).toBe(
      '<DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">http://h/dicomweb/studies/1.2.3</Value></DicomAttribute>'
      + '<DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence"><Item number="1">'
      + '<DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"/>'
      + '<DicomAttribute tag="00081197" vr="US" keyword="FailureReason"><Value number="1">49152</Value></DicomAttribute>'
      + '</Item></DicomAttribute>'
      + '<DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence"><Item number="1">'
      + '<DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">1.2.840.10008.5.1.4.1.1.128</Value></DicomAttribute>'
      + '<DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">1.2.3.4</Value></DicomAttribute>'
      + '</Item></DicomAttribute>',
    );
  });

  test('escapes markup in values and URIs, keeps CR, replaces characters XML cannot carry', () => {
    const xml = toNativeDicomModelXml({
      '00081030': { vr: 'LO', Value: ['<a & "b" \'c\'>'] },
      '00324000': { vr: 'LT', Value: ['line\r\nnext\u001b$B'] },
      '7FE00010': { vr: 'OW', BulkDataURI: 'http://h/x?a=1&b=2' },
    });
    expect(body(xml)).toContain('<Value number="1">&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;</Value>');
    expect(body(xml)).toContain('<Value number="1">line&#13;\nnext\uFFFD$B</Value>');
    expect(body(xml)).toContain('<DicomAttribute tag="7FE00010" vr="OW" keyword="PixelData"><BulkData uri="http://h/x?a=1&amp;b=2"/></DicomAttribute>');
  });

  test('writes person names by component group, empty values as empty Value elements, inline binary', () => {
    const xml = toNativeDicomModelXml({
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John^^Dr', Ideographic: '山田^太郎' }] },
      '00181310': { vr: 'US', Value: [1, null, 3] },
      '00291010': { vr: 'OB', InlineBinary: 'AAEC' },
    });
    expect(body(xml)).toContain('<DicomAttribute tag="00100010" vr="PN" keyword="PatientName"><PersonName number="1">'
      + '<Alphabetic><FamilyName>Doe</FamilyName><GivenName>John</GivenName><NamePrefix>Dr</NamePrefix></Alphabetic>'
      + '<Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic></PersonName></DicomAttribute>');
    expect(body(xml)).toContain('<Value number="1">1</Value><Value number="2"/><Value number="3">3</Value>');
    // A private tag has no keyword in the dictionary: PS3.19 makes the attribute optional.
    expect(body(xml)).toContain('<DicomAttribute tag="00291010" vr="OB"><InlineBinary>AAEC</InlineBinary></DicomAttribute>');
  });
});
