import * as dcmjs from 'dcmjs';
import * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';
import { parseDicomReadingNewerVrs } from './newer-vrs';

/**
 * The VRs of dcmjs's data dictionary that `keep` accepts, keyed as dicom-parser keys tags (`x` + 8 lower-case hex
 * digits). Repeating-group entries (60xx, 50xx, written with x's) are left out.
 */
export function dictionaryVrTable(keep: (vr: string) => boolean): ReadonlyMap<string, string> {
  return new Map(
    Object.values(dcmjs.data.DicomMetaDictionary.nameMap).flatMap(({ tag, vr }) => {
      const digits = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/i.exec(tag);
      return digits && keep(vr) ? [[`x${digits[1]}${digits[2]}`.toLowerCase(), vr] as const] : [];
    }),
  );
}

/**
 * Each standard tag's fixed VR. Ambiguous VRs ("OB or OW", written in lower case in dcmjs's dictionary) are left
 * out: for those, as for private tags, dicom-parser looks ahead as it did before.
 */
const STANDARD_VRS = dictionaryVrTable((vr) => /^[A-Z]{2}$/.test(vr));

/** The VR of a standard tag, for Implicit VR data sets; undefined for private and unknown tags. */
export function implicitVr(tag: string): string | undefined {
  return STANDARD_VRS.get(tag);
}

/**
 * dicom-parser options for every parse of a stored instance. In Implicit VR (the DIMSE default transfer syntax,
 * and what many PACS send) an element's VR is not in the bytes: PS3.5 7.1.3 has it come from the data dictionary.
 * Without a vrCallback dicom-parser looks ahead at every element to guess whether it is a sequence, reading one
 * more tag (a new string) each time; with the dictionary it does that only for tags it does not know.
 */
export function dicomParseOptions(untilTag?: string): dicomParser.ParseDicomOptions {
  return untilTag === undefined ? { vrCallback: implicitVr } : { untilTag, vrCallback: implicitVr };
}

/**
 * What dicom-parser threw, without the data set it read so far: parseDicom throws { exception, dataSet }, whose data
 * set holds the whole file's bytes (kept as an error's cause, or remembered with it, a large multi-frame file's).
 */
function parserException(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'exception' in err && 'dataSet' in err ? err.exception : err;
}

/** What dicom-parser threw, in words: it throws strings as often as Errors, and either in { exception, dataSet }. */
export function parseErrorDetail(err: unknown): string {
  const exception = parserException(err);
  return typeof exception === 'string' ? exception : exception instanceof Error ? exception.message : 'parse error';
}

/** A stored PS3.10 file parsed with dicomParseOptions; MIPSEG_DICOM_UNPARSEABLE where dicom-parser gives up. */
export function parseStoredDicom(bytes: Uint8Array, untilTag?: string): dicomParser.DataSet {
  try {
    return parseDicomReadingNewerVrs(bytes, dicomParseOptions(untilTag));
  } catch (err) {
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', parseErrorDetail(err), { cause: parserException(err) });
  }
}
