import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { explicitElement as element, explicitItem as item, insertedBefore as before } from '../../../test/support/explicit-elements';
import { implicitElement } from '../../../test/support/implicit-elements';
import { toNativeDicomModelXml } from '../dicomweb/native-dicom-model';
import { BULK_DATA_PLACEHOLDER, readDicomJson } from './dicom-json';
import { encodeFileMetaInformation } from './file-meta';

const MAX_SAFE = 2n ** 53n - 1n;
const signed64 = (...values: bigint[]): Buffer => Buffer.concat(values.map((v) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return b;
}));
const unsigned64 = (...values: bigint[]): Buffer => Buffer.concat(values.map((v) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}));

const SV_VALUES = signed64(-5n, -MAX_SAFE, -MAX_SAFE - 1n, 2n ** 63n - 1n, -(2n ** 63n));
const UV_VALUES = unsigned64(7n, MAX_SAFE, MAX_SAFE + 1n, MAX_SAFE + 2n, 2n ** 64n - 1n);
/** PS3.18 F.2.3: Numbers within ±(2^53 − 1), strings beyond. */
const SV_JSON = [-5, -9007199254740991, '-9007199254740992', '9223372036854775807', '-9223372036854775808'];
const UV_JSON = [7, 9007199254740991, '9007199254740992', '9007199254740993', '18446744073709551615'];
const SMALL_OV = unsigned64(0x0102030405060708n);
// 200 offsets: over the 1 KB that readDicomJson gives inline, so a BulkDataURI.
const LARGE_OV = unsigned64(...Array.from({ length: 200 }, (_, i) => BigInt(i) * 4096n));

const SELECTOR_OV = '00720081';
const SELECTOR_SV = '00720082';
const SELECTOR_UV = '00720083';
const EXTENDED_OFFSET_TABLE = '7FE00001';

/** A PET instance with Selector OV, SV and UV Values (0072,0081-0083) and an Extended Offset Table, in Explicit VR. */
function explicitVrInstance(): Buffer {
  return before(syntheticPetInstance({ sopInstanceUid: '2.25.89.10' }), 0x7fe0, 0x0010, Buffer.concat([
    element(0x0072, 0x0081, 'OV', SMALL_OV, true),
    element(0x0072, 0x0082, 'SV', SV_VALUES, true),
    element(0x0072, 0x0083, 'UV', UV_VALUES, true),
    element(0x7fe0, 0x0001, 'OV', LARGE_OV, true),
  ]));
}

describe('readDicomJson of the 64-bit VRs (OV, SV, UV) in an Explicit VR file', () => {
  test('gives each its own VR, not UN', () => {
    const json = readDicomJson(explicitVrInstance(), 16, false);
    expect([SELECTOR_OV, SELECTOR_SV, SELECTOR_UV, EXTENDED_OFFSET_TABLE].map((tag) => json[tag]?.vr)).toEqual(['OV', 'SV', 'UV', 'OV']);
  });

  test('gives SV and UV values as JSON Numbers within ±(2^53 − 1) and as decimal strings beyond (PS3.18 F.2.3)', () => {
    const json = readDicomJson(explicitVrInstance(), 16, false);
    expect(json[SELECTOR_SV]).toEqual({ vr: 'SV', Value: SV_JSON });
    expect(json[SELECTOR_UV]).toEqual({ vr: 'UV', Value: UV_JSON });
    expect(JSON.parse(JSON.stringify(json))[SELECTOR_UV]).toEqual({ vr: 'UV', Value: UV_JSON });
  });

  test('gives an OV value as the other O* VRs: inline when small, by BulkDataURI when over 1 KB', () => {
    const json = readDicomJson(explicitVrInstance(), 16, false);
    expect(json[SELECTOR_OV]).toEqual({ vr: 'OV', InlineBinary: SMALL_OV.toString('base64') });
    expect(json[EXTENDED_OFFSET_TABLE]).toEqual({ vr: 'OV', BulkDataURI: `${BULK_DATA_PLACEHOLDER}/bulkdata/${EXTENDED_OFFSET_TABLE}` });
  });

  test('reads a private element by its VR code, which no dictionary knows, in a sequence item too', () => {
    const privateElements = Buffer.concat([
      element(0x0009, 0x0010, 'LO', Buffer.from('MIPSEG TEST ')),
      element(0x0009, 0x1001, 'SV', signed64(-7n), true),
      element(0x0009, 0x1002, 'OV', SMALL_OV, true),
      element(0x0009, 0x1003, 'SQ', item(element(0x0009, 0x1001, 'UV', unsigned64(2n ** 64n - 1n), true)), true),
    ]);
    const json = readDicomJson(before(syntheticPetInstance({ sopInstanceUid: '2.25.89.11' }), 0x0010, 0x0010, privateElements), 16, false);
    expect(json['00091001']).toEqual({ vr: 'SV', Value: [-7] });
    expect(json['00091002']).toEqual({ vr: 'OV', InlineBinary: SMALL_OV.toString('base64') });
    expect((json['00091003']?.Value?.[0] as Record<string, unknown>)['00091001']).toEqual({ vr: 'UV', Value: ['18446744073709551615'] });
  });

  test('gives an OL (Other Long), which dcmjs reads as UN as it does OV, its own VR', () => {
    const indexList = Buffer.from(Uint32Array.from([1, 2, 3, 5]).buffer);
    const file = before(syntheticPetInstance({ sopInstanceUid: '2.25.89.14' }), 0x7fe0, 0x0010, element(0x0066, 0x0129, 'OL', indexList, true));
    expect(readDicomJson(file, 16, false)['00660129']).toEqual({ vr: 'OL', InlineBinary: indexList.toString('base64') });
  });

  test('reads an SV sent as UN (by an archive that did not know it) by the dictionary\'s VR, little endian (PS3.5 6.2.2)', () => {
    const file = before(syntheticPetInstance({ sopInstanceUid: '2.25.89.12' }), 0x7fe0, 0x0010, element(0x0072, 0x0082, 'UN', SV_VALUES, true));
    expect(readDicomJson(file, 16, false)[SELECTOR_SV]).toEqual({ vr: 'SV', Value: SV_JSON });
  });
});

function implicitVrInstance(): Buffer {
  const sopClass = Buffer.from('1.2.840.10008.5.1.4.1.1.128\0', 'latin1');
  const sopInstance = Buffer.from('2.25.89.13\0', 'latin1');
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: sopClass.toString('latin1').replace('\0', ''),
    mediaStorageSopInstanceUid: '2.25.89.13', transferSyntaxUid: '1.2.840.10008.1.2' });
  return Buffer.concat([meta,
    implicitElement(0x0008, 0x0016, sopClass), implicitElement(0x0008, 0x0018, sopInstance),
    implicitElement(0x0072, 0x0081, SMALL_OV), implicitElement(0x0072, 0x0082, SV_VALUES),
    implicitElement(0x0072, 0x0083, UV_VALUES), implicitElement(0x7fe0, 0x0001, LARGE_OV),
  ]);
}

describe('readDicomJson of an Implicit VR file, whose OV, SV and UV attributes carry no VR code', () => {
  test('gives them the dictionary\'s VRs and the values an Explicit VR file gives', () => {
    const json = readDicomJson(implicitVrInstance(), 16, false);
    expect(json[SELECTOR_OV]).toEqual({ vr: 'OV', InlineBinary: SMALL_OV.toString('base64') });
    expect(json[SELECTOR_SV]).toEqual({ vr: 'SV', Value: SV_JSON });
    expect(json[SELECTOR_UV]).toEqual({ vr: 'UV', Value: UV_JSON });
    expect(json[EXTENDED_OFFSET_TABLE]).toEqual({ vr: 'OV', BulkDataURI: `${BULK_DATA_PLACEHOLDER}/bulkdata/${EXTENDED_OFFSET_TABLE}` });
  });
});

describe('readDicomJson of an Explicit VR Big Endian file with OV, SV and UV values', () => {
  test('gives the values the same file in little endian gives (OV inline in little-endian words)', () => {
    const littleEndian = explicitVrInstance();
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-64-bit-vrs-'));
    try {
      writeFileSync(join(dir, 'le.dcm'), littleEndian);
      const run = spawnSync('dcmconv', ['+tb', join(dir, 'le.dcm'), join(dir, 'be.dcm')], { encoding: 'utf8' });
      if (run.error) throw new Error(`dcmconv cannot run (apt-get install dcmtk): ${run.error.message}`);
      expect(run.status).toBe(0);
      const json = readDicomJson(readFileSync(join(dir, 'be.dcm')), 16, false);
      expect(json[SELECTOR_OV]).toEqual({ vr: 'OV', InlineBinary: SMALL_OV.toString('base64') });
      expect(json[SELECTOR_SV]).toEqual({ vr: 'SV', Value: SV_JSON });
      expect(json[SELECTOR_UV]).toEqual({ vr: 'UV', Value: UV_JSON });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Native DICOM Model XML of OV, SV and UV attributes', () => {
  test('writes their VRs, and SV and UV values in full, beyond 2^53 too', () => {
    const xml = toNativeDicomModelXml(readDicomJson(explicitVrInstance(), 16, false));
    expect(xml).toContain(`<DicomAttribute tag="${SELECTOR_OV}" vr="OV" keyword="SelectorOVValue"><InlineBinary>${SMALL_OV.toString('base64')}</InlineBinary>`);
    expect(xml).toContain(`<DicomAttribute tag="${SELECTOR_SV}" vr="SV" keyword="SelectorSVValue">`
      + SV_JSON.map((v, i) => `<Value number="${i + 1}">${v}</Value>`).join('') + '</DicomAttribute>');
    expect(xml).toContain(`<DicomAttribute tag="${SELECTOR_UV}" vr="UV" keyword="SelectorUVValue">`
      + UV_JSON.map((v, i) => `<Value number="${i + 1}">${v}</Value>`).join('') + '</DicomAttribute>');
    expect(xml).toContain(`<DicomAttribute tag="${EXTENDED_OFFSET_TABLE}" vr="OV" keyword="ExtendedOffsetTable"><BulkData uri=`);
  });
});
