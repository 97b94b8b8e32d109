import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as dicomParser from 'dicom-parser';
import { dicomParseOptions, implicitVr } from '@mipseg/shared/dicom';
import { describeWithSharedData, sharedData } from '../../support/shared-data';

/**
 * Every element's offset, length and sequence items, recursively: what later reads depend on. An empty sequence
 * counts as no items: the look-ahead cannot tell a zero-length SQ from a zero-length value (the dictionary can, and
 * gives it `items: []`), and no reader tells them apart.
 */
function layout(ds: dicomParser.DataSet): unknown {
  return Object.fromEntries(Object.entries(ds.elements).map(([tag, el]) => [tag, {
    dataOffset: el.dataOffset, length: el.length,
    items: el.items?.length ? el.items.map((item) => (item.dataSet ? layout(item.dataSet) : null)) : undefined,
  }]));
}

describe('Implicit VR parsing with the data dictionary', () => {
  it('gives standard tags their dictionary VR and leaves private, repeating-group and ambiguous ones to dicom-parser', () => {
    expect(implicitVr('x00080018')).toBe('UI');
    expect(implicitVr('x00540016')).toBe('SQ');
    expect(implicitVr('x00101030')).toBe('DS');
    expect(implicitVr('x0009100d')).toBeUndefined(); // private (GE)
    expect(implicitVr('x60003000')).toBeUndefined(); // overlay data, repeating group (60xx,3000)
    expect(implicitVr('x7fe00010')).toBeUndefined(); // Pixel Data: "OB or OW"
  });
});

const PET_DICOM = 'data/pet-dicom';

/** Every .dcm under a folder, recursively. */
function dicomFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => join(e.parentPath, e.name)).sort();
}

describeWithSharedData(PET_DICOM)('Implicit VR parsing of real files', () => {
  it('finds the same elements, sequences and items as dicom-parser\'s own look-ahead, in every reference file', () => {
    const files = dicomFiles(sharedData(PET_DICOM).path);
    let implicit = 0;
    let sequences = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      // Files without the PS3.10 preamble are refused at ingest (and by parseDicom); nothing parses them.
      if (bytes.toString('latin1', 128, 132) !== 'DICM') continue;
      const withDictionary = dicomParser.parseDicom(bytes, dicomParseOptions());
      expect({ file, layout: layout(withDictionary) }).toEqual({ file, layout: layout(dicomParser.parseDicom(bytes)) });
      if (withDictionary.string('x00020010') === '1.2.840.10008.1.2') implicit++;
      sequences += Object.values(withDictionary.elements).filter((el) => el.items?.length).length;
    }
    // The GE series (267 files) is Implicit VR, so the comparison above tested the dictionary, not only explicit VRs.
    expect(implicit).toBeGreaterThanOrEqual(267);
    expect(sequences).toBeGreaterThanOrEqual(files.length);
  });
});
