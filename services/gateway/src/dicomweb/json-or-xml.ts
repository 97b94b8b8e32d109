import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { DicomJson } from '@mipseg/shared/dicom';
import { multipartPartType, negotiate, toNativeDicomModelXml } from '@mipseg/shared/dicomweb';

const DICOM_XML = 'application/dicom+xml';

/**
 * What a search (PS3.18 10.6.3) and a metadata retrieve (10.4.3) can answer with: DICOM JSON (also for
 * application/json, as STOW takes it) or one Native DICOM Model document per data set in multipart/related.
 */
const JSON_OR_XML = ['application/dicom+json', 'application/json', 'multipart/related'] as const;

/** Which of the two the client takes; throws MIPSEG_NOT_ACCEPTABLE (406) when the Accept header allows neither. */
export function jsonOrXml(accept: string | undefined): 'json' | 'xml' {
  const { offer } = negotiate(accept, JSON_OR_XML, (entry, candidate) =>
    candidate !== 'multipart/related' || multipartPartType(entry, '') === DICOM_XML);
  return offer === 'multipart/related' ? 'xml' : 'json';
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
