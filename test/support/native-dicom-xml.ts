import { runPythonJson } from './dicom-tools';

/**
 * Reads PS3.19 Native DICOM Model documents with Python's own XML parser (an independent reader) back into the
 * PS3.18 JSON model (InlineBinary and BulkData as InlineBinary and BulkDataURI), failing unless each root is
 * NativeDicomModel in its namespace. Person names come back as
 * PS3.18 F.2.2 objects, their components joined with `^` (trailing empty ones dropped, as PS3.5 allows). Each
 * tag's keyword attribute is collected too.
 */
const NATIVE_XML_TO_JSON = String.raw`
import json, sys
import xml.etree.ElementTree as ET
NS = '{http://dicom.nema.org/PS3.19/models/NativeDICOM}'
NUMBERS = {'US': int, 'UL': int, 'SS': int, 'SL': int, 'IS': int, 'DS': float, 'FL': float, 'FD': float}
COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix']
def numbered(parent, name):
    children = parent.findall(NS + name)
    assert [int(c.get('number')) for c in children] == list(range(1, len(children) + 1)), name
    return children
def person_name(element):
    name = {}
    for group in ['Alphabetic', 'Ideographic', 'Phonetic']:
        g = element.find(NS + group)
        if g is not None:
            parts = [(g.findtext(NS + c) or '') for c in COMPONENTS]
            while parts and parts[-1] == '':
                parts.pop()
            name[group] = '^'.join(parts)
    return name or None
def data_set(element, keywords):
    out = {}
    for a in element.findall(NS + 'DicomAttribute'):
        keywords[a.get('tag')] = a.get('keyword')
        vr = a.get('vr')
        if vr == 'SQ':
            values = [data_set(item, keywords) for item in numbered(a, 'Item')]
        elif vr == 'PN':
            values = [person_name(v) for v in numbered(a, 'PersonName')]
        else:
            values = [NUMBERS.get(vr, str)(v.text) for v in numbered(a, 'Value')]
        out[a.get('tag')] = {'vr': vr, 'Value': values} if values else {'vr': vr}
        inline, bulk = a.find(NS + 'InlineBinary'), a.find(NS + 'BulkData')
        if inline is not None:
            out[a.get('tag')]['InlineBinary'] = inline.text or ''
        if bulk is not None:
            out[a.get('tag')]['BulkDataURI'] = bulk.get('uri')
    return out
documents = []
for text in sys.argv[1:]:
    root = ET.fromstring(text.encode('utf-8'))
    assert root.tag == NS + 'NativeDicomModel', root.tag
    keywords = {}
    documents.append({'dataSet': data_set(root, keywords), 'keywords': keywords})
print(json.dumps(documents))
`;

export interface NativeXmlReading {
  /** The document as a data set in the PS3.18 JSON model. */
  readonly dataSet: Record<string, unknown>;
  /** The keyword attribute of each tag, nested ones included. */
  readonly keywords: Record<string, string | null>;
}

/** Each document with its keywords. */
export function readNativeDicomXmlWithKeywords(documents: readonly string[]): NativeXmlReading[] {
  return runPythonJson(NATIVE_XML_TO_JSON, documents) as NativeXmlReading[];
}

/** Each document as a data set in the PS3.18 JSON model. */
export function readNativeDicomXml(documents: readonly string[]): Array<Record<string, unknown>> {
  return readNativeDicomXmlWithKeywords(documents).map((d) => d.dataSet);
}
