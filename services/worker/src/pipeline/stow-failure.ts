import { DicomFailureReason, fetchFailureCause, MipsegError } from '@mipseg/shared/errors';

/**
 * How a STOW-RS failure reads in an export's detail (jobs API, worklist), in the C-STORE SCU's manner (store-scu-progress):
 * the destination, the phase (connecting, waiting for the response, reading it) and the reason, each said once.
 */

/** What the detail calls each instance sent: "MIP", "SEG" by SOP Instance UID; an instance not named is its UID alone. */
export type InstanceNames = ReadonlyMap<string, string>;

export function describeInstance(sopInstanceUid: string, names: InstanceNames | undefined): string {
  const name = names?.get(sopInstanceUid);
  return name === undefined ? sopInstanceUid : `${name} ${sopInstanceUid}`;
}

/**
 * " (MIP delivered)" where the destination stored some of the instances but not all: whoever reads that the SEG
 * failed should know the PACS already shows the MIP. Empty where it stored none or all.
 */
export function deliveredNote(sopInstanceUids: readonly string[], stored: ReadonlySet<string>, names: InstanceNames | undefined): string {
  const delivered = sopInstanceUids.filter((uid) => stored.has(uid));
  if (delivered.length === 0 || delivered.length === sopInstanceUids.length) return '';
  return ` (${delivered.map((uid) => names?.get(uid) ?? uid).join(' and ')} delivered)`;
}

/** PS3.18 Table I.2-2's failure reasons (A7xx, A9xx and Cxxx as ranges), in words. */
export function failureReasonWords(reason: number): string | undefined {
  if ((reason & 0xff00) === 0xa700) return 'out of resources';
  if ((reason & 0xff00) === 0xa900) return 'data set does not match SOP class';
  if (reason === DicomFailureReason.SopClassNotSupported) return 'SOP class not supported';
  if (reason === DicomFailureReason.ProcessingFailure) return 'processing failure';
  if (reason === DicomFailureReason.TransferSyntaxNotSupported) return 'transfer syntax not supported';
  if ((reason & 0xf000) === 0xc000) return 'cannot understand';
  return undefined;
}

/** "HTTP 503 Service Unavailable": the reason phrase where the destination sent one. */
export function statusLine(res: Response): string {
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
}

/**
 * Most of a body read where it is not JSON: the excerpt shows 200 characters of its text. A destination (or whatever
 * answers in its place) may send an error page of any size, read on the thread that under `mipseg serve` is the gateway's.
 */
export const EXCERPT_SOURCE_BYTES = 16 * 1024;
/** Most of a JSON body read: a STOW-RS response for a MIP and a SEG is a few kilobytes. */
export const STOW_RESPONSE_MAX_BYTES = 1024 * 1024;

/**
 * The response's body, or its start where it is longer than its cap (the rest is not read: the stream is cancelled).
 * A body cut short is no STOW-RS response; its start is still what an excerpt shows.
 */
export async function readResponseBody(res: Response): Promise<string> {
  if (res.body === null) return '';
  const max = /json/i.test(res.headers.get('content-type') ?? '') ? STOW_RESPONSE_MAX_BYTES : EXCERPT_SOURCE_BYTES;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size >= max) {
      // Nothing of the rest is wanted; a failed cancel leaves only a connection for undici to close.
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max));
}

/** The text without its markup: each tag a space, in one pass (a regular expression over unclosed "<"s is quadratic). */
function withoutTags(html: string): string {
  let plain = '';
  let at = 0;
  for (;;) {
    const open = html.indexOf('<', at);
    const close = open === -1 ? -1 : html.indexOf('>', open);
    // No "<" left, or none that closes: no tag either, as no ">" follows.
    if (close === -1) return plain + html.slice(at);
    plain += `${html.slice(at, open)} `;
    at = close + 1;
  }
}

/** The start of a body that is not DICOM JSON, as one line: an error page's text without its markup. */
export function bodyExcerpt(text: string, contentType: string | null): string {
  const start = text.slice(0, EXCERPT_SOURCE_BYTES);
  const plain = /html/i.test(contentType ?? '') ? withoutTags(start) : start;
  const line = plain.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * The Location a redirect names, without what may be a secret (user:password, a query or fragment: a login page's
 * ?token=…); the path is what the administrator needs to configure the final URL.
 */
export function shownLocation(location: string | null, baseUrl: string): string {
  if (location === null) return '(no Location)';
  try {
    const url = new URL(location, baseUrl);
    return `${url.protocol}//${url.host}${url.pathname}${url.search || url.hash ? ' (query not shown)' : ''}`;
  } catch {
    return '(a Location that is not a URL)';
  }
}

interface CauseReason {
  readonly code: string | undefined;
  /** The cause's message, with its code where the message does not hold it: "connect ECONNREFUSED 10.0.0.5:443". */
  readonly reason: string;
  /** "CODE: message", for a certificate error, whose code is what a search for the fix needs. */
  readonly codeFirst: string;
}

/**
 * fetch's own message is only "fetch failed": the reason is its cause's, said once (fetchFailureCause's detail gives
 * the code and then a message that holds it again: "ECONNREFUSED: connect ECONNREFUSED …").
 */
function causeReason(err: unknown): CauseReason {
  const { code, detail } = fetchFailureCause(err);
  const cause = (err as { cause?: { message?: unknown } } | null)?.cause;
  const message = typeof cause?.message === 'string' ? cause.message.trim() : '';
  if (code === undefined) {
    const reason = message || (err instanceof Error ? err.message : String(err));
    return { code, reason, codeFirst: reason };
  }
  // OpenSSL's message is a trace ("…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…"); its code says it.
  if (code.startsWith('ERR_SSL_')) {
    const reason = `${code}: ${code.slice('ERR_SSL_'.length).toLowerCase().replace(/_/g, ' ')}`;
    return { code, reason, codeFirst: reason };
  }
  return { code, reason: !message ? code : message.includes(code) ? message : `${message} (${code})`, codeFirst: detail };
}

/** Failures of the connection itself, the TLS handshake included: nothing reached the destination's STOW-RS service. */
const CONNECT_ERRORS = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|EPROTO|ERR_SSL_|ERR_TLS_)/;
/** TLS errors that a retry cannot fix: the destination's certificate is not one this host accepts. */
const CERTIFICATE_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/** A certificate refused, and what to do about it: the advice depends on why. */
function certificateRefused(baseUrl: string, cause: CauseReason & { code: string }, err: unknown): MipsegError {
  const why = cause.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
    ? `its TLS certificate is not for this host name (${cause.reason}); configure the destination by a name the certificate holds`
    : cause.code === 'CERT_HAS_EXPIRED' || cause.code === 'CERT_NOT_YET_VALID'
      ? `its TLS certificate is outside its validity period (${cause.codeFirst}); the destination needs a current certificate`
      : `TLS certificate not trusted (${cause.codeFirst}); add its CA with NODE_EXTRA_CA_CERTS`;
  return new MipsegError('MIPSEG_EXPORT_REFUSED', `could not connect to ${baseUrl}: ${why}`, { cause: err });
}

/**
 * A fetch that failed before a response came: a connection not made (may work later), a certificate this host does not
 * accept (will not), or a connection lost before the answer.
 */
export function unreachable(baseUrl: string, err: unknown): MipsegError {
  const cause = causeReason(err);
  const { code, reason } = cause;
  if (code && CERTIFICATE_ERRORS.test(code)) return certificateRefused(baseUrl, { ...cause, code }, err);
  if (code?.startsWith('ERR_SSL_')) {
    return new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', `could not connect to ${baseUrl}: TLS handshake failed (${reason}); `
      + 'if that port speaks plain HTTP, configure an http:// URL', { cause: err });
  }
  if (code && CONNECT_ERRORS.test(code)) return new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', `could not connect to ${baseUrl}: ${reason}`, { cause: err });
  if (code?.startsWith('HPE_')) return new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', `${baseUrl} did not answer in HTTP: ${reason}`, { cause: err });
  return new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', `the connection to ${baseUrl} failed before its STOW-RS response: ${reason}`, { cause: err });
}

/** The response's body could not be read to its end. */
export function lostWhileReading(baseUrl: string, res: Response, err: unknown): MipsegError {
  return new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE',
    `the connection to ${baseUrl} failed while reading its ${statusLine(res)} response: ${causeReason(err).reason}`, { cause: err });
}

/** The request's limit passed: before any response (`res` undefined), or while its body was read. */
export function noAnswer(baseUrl: string, timeoutMs: number, res: Response | undefined, err: unknown): MipsegError {
  const within = `within ${timeoutMs / 1000} s`;
  return new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', res === undefined ? `no STOW-RS response from ${baseUrl} ${within}`
    : `the ${statusLine(res)} response from ${baseUrl} did not complete ${within}`, { cause: err });
}
