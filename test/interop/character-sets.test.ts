import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import { parseInstanceHeader, readDcmjsDataSet } from '@mipseg/shared/dicom';
import { pydicomAvailable, runPythonJson } from '../support/dicom-tools';

/**
 * pydicom ships the character-set examples of PS3.5 Annexes H, I and J and dclunie's test files (Arabic, Greek,
 * Hebrew, Russian, Japanese and Korean in ISO 2022, GB18030, UTF-8, and sequences with their own character
 * set). Its decoding of every person name there is the reference ours must give, in the index and in dcmjs.
 */
const PYDICOM_NAMES = `
import json, os, sys, pydicom, pydicom.data
folder = os.path.join(os.path.dirname(pydicom.data.__file__), 'charset_files')
names = {}
for f in sorted(os.listdir(folder)):
    if not f.endswith('.dcm'):
        continue
    ds = pydicom.dcmread(os.path.join(folder, f))
    found = {}
    def visit(d, path):
        for el in d:
            if el.VR == 'PN' and el.value:
                values = el.value if el.VM > 1 else [el.value]
                found[path + el.keyword] = '\\\\'.join(str(v) for v in values)
            elif el.VR == 'SQ':
                for i, item in enumerate(el.value):
                    visit(item, path + el.keyword + '.' + str(i) + '.')
    visit(ds, '')
    names[f] = found
print(json.dumps({'folder': folder, 'names': names}))
`;

type Names = Record<string, Record<string, string>>;

/** Person names of a dcmjs dict by keyword path, in PS3.5 form (groups joined by '='). */
function personNames(dict: Record<string, { vr?: string; Value?: unknown[] }>, keywords: Record<string, string>, path = ''): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [tag, el] of Object.entries(dict)) {
    const keyword = keywords[tag] ?? tag;
    if (el.vr === 'PN' && el.Value?.length) {
      found[path + keyword] = el.Value.map((v) => {
        const g = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
        return [g.Alphabetic ?? '', g.Ideographic ?? '', g.Phonetic ?? ''].join('=').replace(/=+$/, '');
      }).join('\\');
    } else if (el.vr === 'SQ') {
      (el.Value ?? []).forEach((item, i) => Object.assign(found,
        personNames(item as Record<string, { vr?: string; Value?: unknown[] }>, keywords, `${path}${keyword}.${i}.`)));
    }
  }
  return found;
}

/** Keyword of each standard tag, keyed as dcmjs keys its dicts. */
const KEYWORDS: Record<string, string> = Object.fromEntries(Object.entries(dcmjs.data.DicomMetaDictionary.nameMap)
  .map(([keyword, { tag }]) => [tag.replace(/[(),]/g, '').toUpperCase(), keyword]));

(pydicomAvailable() ? describe : describe.skip)('text in every character set of pydicom\'s examples', () => {
  const { folder, names } = runPythonJson(PYDICOM_NAMES, []) as { folder: string; names: Names };
  const files = Object.keys(names).filter((f) => Object.keys(names[f] ?? {}).length > 0);

  test('covers the ISO 2022 examples of PS3.5 Annexes H and I', () => {
    expect(files).toEqual(expect.arrayContaining(['chrH31.dcm', 'chrH32.dcm', 'chrI2.dcm', 'chrSQEncoding.dcm', 'chrSQEncoding1.dcm']));
  });

  test.each(files)('%s: dcmjs, read through readDcmjsDataSet, gives the names pydicom gives', (file) => {
    const dict = readDcmjsDataSet(readFileSync(join(folder, file))).dict;
    expect(personNames(dict, KEYWORDS)).toEqual(names[file]);
  });

  // chrSQEncoding*.dcm have no Study Instance UID: the index refuses them, dcmjs's reading above covers them.
  const indexable = files.filter((f) => names[f]?.['PatientName'] && !f.startsWith('chrSQEncoding'));

  test.each(indexable)('%s: the index stores the patient name pydicom gives', (file) => {
    const indexed = parseInstanceHeader(readFileSync(join(folder, file))).values['patient_name'];
    expect(indexed).toBe(names[file]?.['PatientName']);
  });
});
