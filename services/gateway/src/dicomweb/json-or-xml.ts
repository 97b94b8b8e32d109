import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { DicomJson } from '@mipseg/shared/dicom';
import { multipartPartType, negotiate, toNativeDicomModelXml } from '@mipseg/shared/dicomweb';
import { isMipsegError } from '@mipseg/shared/errors';

const DICOM_XML = 'application/dicom+xml';
const DICOM_JSON = 'application/dicom+json';

/**
 * What a search (PS3.18 10.6.3) and a metadata retrieve (10.4.3) can answer with: DICOM JSON (also for
 * application/json, as STOW takes it) or one Native DICOM Model document per data set in multipart/related.
 */
const JSON_OR_XML = ['application/dicom+json', 'application/json', 'multipart/related'] as const;

/**
 * Which of the two the client takes, JSON by the media type to label it with; throws MIPSEG_NOT_ACCEPTABLE (406)
 * when the Accept header allows neither. JSON is labelled application/dicom+json, also for `Accept: application/json`
 * (the body is DICOM JSON either way), except where the client refused application/dicom+json (q=0), which a
 * `*\/*` after it does not undo: the same body then goes as application/json.
 */
export function jsonOrXml(accept: string | undefined): typeof DICOM_JSON | 'application/json' | 'xml' {
  const { offer } = negotiate(accept, JSON_OR_XML, (entry, candidate) =>
    candidate !== 'multipart/related' || multipartPartType(entry, '') === DICOM_XML);
  if (offer === 'multipart/related') return 'xml';
  return refusesDicomJson(accept) ? 'application/json' : DICOM_JSON;
}

/**
 * Whether the Accept header refuses application/dicom+json: a range covers it, and the one that sets its quality
 * (as negotiate picks it) has q=0. An Accept that does not cover it at all (`application/json`) does not refuse it.
 */
function refusesDicomJson(accept: string | undefined): boolean {
  let covered = false;
  try {
    negotiate(accept, [DICOM_JSON] as const, () => {
      covered = true;
      return true;
    });
    return false;
  } catch (err) {
    if (isMipsegError(err) && err.code === 'MIPSEG_NOT_ACCEPTABLE') return covered;
    throw err;
  }
}

/**
 * One part per data set, each a Native DICOM Model document. None gives a body with the closing delimiter only, the
 * multipart form of the JSON `[]`.
 */
export function sendXmlDocuments(res: Response, dataSets: readonly DicomJson[]): void {
  const boundary = randomUUID();
  const parts = dataSets.map((d) => `--${boundary}\r\nContent-Type: ${DICOM_XML}\r\n\r\n${toNativeDicomModelXml(d)}\r\n`);
  res.status(200).type(`multipart/related; type="${DICOM_XML}"; boundary=${boundary}`);
  res.send(Buffer.from(`${parts.join('')}--${boundary}--\r\n`, 'utf8'));
}
