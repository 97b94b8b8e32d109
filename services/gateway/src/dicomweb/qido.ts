import type { Request, Response } from 'express';
import type { Config } from '@mipseg/shared/config';
import { emptyAttributeVr, type DicomJson } from '@mipseg/shared/dicom';
import { isMipsegError, type MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import type { Archive, QueryLevel, SearchRow, StoredInstance } from '@mipseg/shared/store';
import { jsonOrXml, sendXmlDocuments } from './json-or-xml';
import {
  givenInPartFor, givenInPartWarning, instanceMetadataJson, mapConcurrently, METADATA_READS_AT_ONCE, type InstanceGivenInPart,
} from './metadata-reads';
import { loadParentRows } from './qido-parent-rows';
import { parseQidoRequest, type PathScope } from './qido-query';
import { parentRowsToLoad, qidoResultBuilder, sortDicomJson, type ReturnedAttributes } from './qido-results';
import { dicomwebBase } from './urls';
import { warningHeaderValue } from './warning-header';

function representative(archive: Archive, level: QueryLevel, row: SearchRow): StoredInstance | undefined {
  const studyUid = String(row['study_uid']);
  if (level === 'instance') return archive.index.findInstance(String(row['sop_instance_uid']));
  if (level === 'series') return archive.index.findRepresentativeInstance({ studyUid, seriesUid: String(row['series_uid']) });
  return archive.index.findRepresentativeInstance({ studyUid });
}

/** Reads of a row's metadata: a representative replaced again at each read is not followed for ever. */
const METADATA_READ_ATTEMPTS = 3;

/** What a search reads its rows' metadata with. */
interface RowReads {
  readonly archive: Archive;
  readonly level: QueryLevel;
  readonly base: string;
  readonly log: Logger;
}

/** A row's representative read: its metadata, or the instance whose metadata cannot be read (see givenInPartFor). */
type RepresentativeRead = { readonly metadata: DicomJson } | { readonly givenInPart: InstanceGivenInPart };

/**
 * The metadata of the row's representative instance as the index lists it now; undefined when the row's instance (or
 * every instance of its study or series) was deleted since the search. A read told "not found" looks the row up again:
 * a corrected copy re-sent meanwhile, or another instance of the study, is read instead. One copy whose metadata
 * cannot be read (crafted, damaged, or its read paused for an hour after running past its limit) must not fail the
 * whole search, a viewer's or PACS's study list: its row is given in part, logged for an administrator.
 */
async function currentMetadata(reads: RowReads, row: SearchRow): Promise<RepresentativeRead | undefined> {
  const { archive, level, base } = reads;
  for (let attempt = 1; ; attempt++) {
    const instance = representative(archive, level, row);
    if (!instance) return undefined;
    try {
      return { metadata: JSON.parse(await instanceMetadataJson(archive, instance, base)) as DicomJson };
    } catch (err) {
      if (givenInPartFor(err)) return { givenInPart: loggedGivenInPart(reads.log, instance, err) };
      if (!isMipsegError(err, 'MIPSEG_NOT_FOUND')) throw err;
      const now = representative(archive, level, row);
      // The same copy still listed: its study's deletion is under way, and the row goes with it.
      const unchanged = now?.sopInstanceUid === instance.sopInstanceUid && now.sha256 === instance.sha256;
      if (!now || unchanged) return undefined;
      if (attempt === METADATA_READ_ATTEMPTS) throw err;
    }
  }
}

function loggedGivenInPart(log: Logger, instance: StoredInstance, err: MipsegError): InstanceGivenInPart {
  log.warn({ sopInstanceUid: instance.sopInstanceUid, studyInstanceUid: instance.studyInstanceUid, code: err.code, reason: err.message },
    'search result given in part: its representative instance\'s full metadata cannot be read');
  return { sopInstanceUid: instance.sopInstanceUid, code: err.code };
}

/** A row's result; `givenInPart` names its representative where its attributes from metadata were returned empty. */
interface FilledRow {
  readonly json: DicomJson;
  readonly givenInPart?: InstanceGivenInPart;
}

/**
 * Fills attributes the index does not hold (includefield of any tag) from a representative instance. One it does not
 * have is returned empty, as C-FIND returns a key without a value (PS3.4 C.2.2.1.2): asked for, always answered; so is
 * every one where its metadata cannot be read (the row keeps what the index holds). Undefined when the row's instances
 * were deleted while the search ran: that row is no longer a match.
 */
async function fillFromMetadata(reads: RowReads, row: SearchRow, json: DicomJson,
  missing: readonly string[], everyAttribute: boolean): Promise<FilledRow | undefined> {
  const read = await currentMetadata(reads, row);
  if (!read) return undefined;
  const metadata = 'metadata' in read ? read.metadata : {};
  for (const tag of missing) json[tag] = metadata[tag] ?? { vr: emptyAttributeVr(tag) };
  if ('givenInPart' in read) return { json, givenInPart: read.givenInPart };
  if (!everyAttribute) return { json };
  // includefield=all at instance level: "all available attributes" (PS3.18 10.6.3.3), as dcm4chee and Orthanc give
  // them, from the instance itself; binary values (Pixel Data, private blobs, icon images) are WADO-RS's, not a search's.
  for (const [tag, attribute] of Object.entries(metadata)) {
    // Binary values go whole, sequences holding them too (an icon image: its pixels are inline in the item).
    if (tag in json || /"(BulkDataURI|InlineBinary)"/.test(JSON.stringify(attribute))) continue;
    json[tag] = attribute;
  }
  return { json };
}

/** GET /studies, /series, /instances and their scoped forms: Search (QIDO-RS). Empty result: 200 []. */
export function searchHandler(archive: Archive, config: Config, log: Logger, level: QueryLevel) {
  return async (req: Request, res: Response): Promise<void> => {
    const responseType = jsonOrXml(req.get('accept'));
    const scope: PathScope = {
      study: req.params['study'] as string | undefined,
      series: req.params['series'] as string | undefined,
    };
    const qido = parseQidoRequest(level, req.query, scope, config);
    const { rows, truncated } = archive.index.search(qido.search);
    const base = dicomwebBase(req);
    const returned: ReturnedAttributes = {
      wanted: new Set([...qido.includeTags, ...qido.matchTags]), includeAll: qido.includeAll, parentLevels: qido.parentLevels,
    };
    const parents = loadParentRows(archive.index, rows, parentRowsToLoad(level, returned));
    const { missing, build } = qidoResultBuilder(level, base, returned);
    const everyAttribute = level === 'instance' && qido.includeAll;
    const reads: RowReads = { archive, level, base, log };
    // Built in tag order: only results that metadata fills in need sorting again.
    const filled = missing.length === 0 && !everyAttribute ? rows.map((row): FilledRow => ({ json: build(row, parents) }))
      : (await mapConcurrently(rows, METADATA_READS_AT_ONCE, async (row) => {
        const result = await fillFromMetadata(reads, row, build(row, parents), missing, everyAttribute);
        return result && { ...result, json: sortDicomJson(result.json) };
      })).filter((result) => result !== undefined);
    const results = filled.map((result) => result.json);
    const warnings = [...qido.warnings];
    const givenInPart = givenInPartWarning(filled.flatMap((result) => result.givenInPart ?? []));
    if (givenInPart !== undefined) warnings.push(givenInPart);
    // limit=0 is a valid uint that asks for no results (PS3.18 8.3.4.4.1: results = min(…, limit)): a Warning to page
    // on would name this same request's offset, and a client following it would never advance.
    if (truncated && rows.length > 0) warnings.push(`more results match: repeat with offset=${qido.search.offset + rows.length}`);
    if (warnings.length) res.set('Warning', warnings.map(warningHeaderValue).join(', '));
    if (responseType === 'xml') sendXmlDocuments(res, results);
    else res.status(200).type(responseType).send(JSON.stringify(results));
  };
}
