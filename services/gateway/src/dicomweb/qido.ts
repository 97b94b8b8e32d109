import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Config } from '@mipseg/shared/config';
import { emptyAttributeVr, type DicomJson } from '@mipseg/shared/dicom';
import { multipartPartType, negotiate, toNativeDicomModelXml } from '@mipseg/shared/dicomweb';
import type { Archive, QueryLevel, SearchRow, StoredInstance } from '@mipseg/shared/store';
import { instanceMetadataJson, mapConcurrently, METADATA_READS_AT_ONCE } from './metadata-reads';
import { parseQidoRequest, type PathScope } from './qido-query';
import { rowToDicomJson, sortDicomJson } from './qido-results';
import { dicomwebBase } from './urls';
import { warningHeaderValue } from './warning-header';

const DICOM_XML = 'application/dicom+xml';

/**
 * What a search can answer with (PS3.18 10.6.3): DICOM JSON (also for application/json, as STOW and WADO
 * metadata take it) or one Native DICOM Model document per result in multipart/related.
 */
const SEARCH_RESPONSE_TYPES = ['application/dicom+json', 'application/json', 'multipart/related'] as const;
type SearchResponseType = 'json' | 'xml';

/** Throws MIPSEG_NOT_ACCEPTABLE (406) when the Accept header allows neither. */
function searchResponseType(accept: string | undefined): SearchResponseType {
  const { offer } = negotiate(accept, SEARCH_RESPONSE_TYPES, (entry, candidate) =>
    candidate !== 'multipart/related' || multipartPartType(entry, '') === DICOM_XML);
  return offer === 'multipart/related' ? 'xml' : 'json';
}

function representative(archive: Archive, level: QueryLevel, row: SearchRow): StoredInstance | undefined {
  const studyUid = String(row['study_uid']);
  if (level === 'instance') return archive.index.findInstance(String(row['sop_instance_uid']));
  if (level === 'series') return archive.index.findRepresentativeInstance({ studyUid, seriesUid: String(row['series_uid']) });
  return archive.index.findRepresentativeInstance({ studyUid });
}

/**
 * Fills attributes the index does not hold (includefield of any tag) from a representative instance. One it does not
 * have is returned empty, as C-FIND returns a key without a value (PS3.4 C.2.2.1.2): asked for, always answered.
 */
async function fillFromMetadata(archive: Archive, level: QueryLevel, row: SearchRow, json: DicomJson,
  missing: string[], base: string): Promise<void> {
  const instance = representative(archive, level, row);
  const metadata = instance ? JSON.parse(await instanceMetadataJson(archive, instance, base)) as DicomJson : {};
  for (const tag of missing) json[tag] = metadata[tag] ?? { vr: emptyAttributeVr(tag) };
}

/**
 * PS3.18 10.6.3: one part per result, each a Native DICOM Model document. No result gives a body with the
 * closing delimiter only, the multipart form of the JSON `[]`.
 */
function sendXmlResults(res: Response, results: readonly DicomJson[]): void {
  const boundary = randomUUID();
  const parts = results.map((r) => `--${boundary}\r\nContent-Type: ${DICOM_XML}\r\n\r\n${toNativeDicomModelXml(r)}\r\n`);
  res.status(200).type(`multipart/related; type="${DICOM_XML}"; boundary=${boundary}`);
  res.send(Buffer.from(`${parts.join('')}--${boundary}--\r\n`, 'utf8'));
}

/** GET /studies, /series, /instances and their scoped forms: Search (QIDO-RS). Empty result: 200 []. */
export function searchHandler(archive: Archive, config: Config, level: QueryLevel) {
  return async (req: Request, res: Response): Promise<void> => {
    const responseType = searchResponseType(req.get('accept'));
    const scope: PathScope = {
      study: req.params['study'] as string | undefined,
      series: req.params['series'] as string | undefined,
    };
    const qido = parseQidoRequest(level, req.query, scope, config);
    const { rows, truncated } = archive.index.search(qido.search);
    const base = dicomwebBase(req);
    const wanted = new Set([...qido.includeTags, ...qido.matchTags]);
    const results = await mapConcurrently(rows, METADATA_READS_AT_ONCE, async (row) => {
      const { json, missing } = rowToDicomJson(level, row, base, wanted, qido.includeAll);
      if (missing.length) await fillFromMetadata(archive, level, row, json, missing, base);
      return sortDicomJson(json);
    });
    const warnings = [...qido.warnings];
    if (truncated) warnings.push(`more results match: repeat with offset=${qido.search.offset + rows.length}`);
    if (warnings.length) res.set('Warning', warnings.map(warningHeaderValue).join(', '));
    if (responseType === 'xml') sendXmlResults(res, results);
    else res.status(200).type('application/dicom+json').send(JSON.stringify(results));
  };
}
