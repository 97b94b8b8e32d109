import { constants, type association } from 'dcmjs-dimse';
import { canonicalIp, splitAllowedAeEntry } from '@mipseg/shared/config';
import { isSupportedStorageSopClass, TransferSyntax, VERIFICATION_SOP_CLASS } from '@mipseg/shared/dicom';
import { ACCEPTED_TRANSFER_SYNTAXES } from '@mipseg/shared/store';

/** Transfer syntaxes accepted for storage: the archive's, which STOW-RS holds its instances to as well. */
export { ACCEPTED_TRANSFER_SYNTAXES };

/**
 * Accepted, so that a sender with nothing else can still store (a PACS forwarding lossy JPEG secondary captures
 * or CT as it holds them), but not decoded by the worker: a PET series in one of these is kept and its analysis
 * fails with the transfer syntax named. Where the sender also proposes a syntax the worker decodes, that one is
 * taken instead (a test checks this list against the worker's decoders).
 */
export const STORED_NOT_DECODED_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TransferSyntax.ExplicitVrBigEndian,
  TransferSyntax.JpegBaseline,
  TransferSyntax.JpegExtended,
  TransferSyntax.Htj2kLossless,
  TransferSyntax.Htj2kLosslessRpcl,
  TransferSyntax.Htj2k,
]);

/** The A-ASSOCIATE-RJ fields (PS3.8 9.3.4) and a reason for our log. */
export interface AssociationRejection {
  readonly result: number;
  readonly source: number;
  readonly reason: number;
  readonly why: string;
  /** The catalogue's code, for the log line (an association has no HTTP answer to carry it). */
  readonly code: 'MIPSEG_AE_TITLE_REFUSED' | 'MIPSEG_BUSY';
}

export interface AssociationPolicy {
  readonly aeTitle: string;
  /** Empty: any calling AE title may associate. `AE@address`: that AE title from that IP address only. */
  readonly allowedCallingAeTitles: readonly string[];
}

function isAllowedPeer(callingAeTitle: string, peerAddress: string | undefined, allowed: readonly string[]): boolean {
  const calling = callingAeTitle.trim();
  const from = peerAddress === undefined ? undefined : canonicalIp(peerAddress);
  return allowed.some((entry) => {
    const { aeTitle, address } = splitAllowedAeEntry(entry);
    return aeTitle === calling && (address === undefined || address === from);
  });
}

const { RejectResult, RejectSource, RejectReason, PresentationContextResult } = constants;

/** Checks the AE titles of an A-ASSOCIATE-RQ; undefined when the association may go on. */
export function checkAeTitles(callingAeTitle: string, calledAeTitle: string, policy: AssociationPolicy,
  peerAddress?: string): AssociationRejection | undefined {
  if (calledAeTitle.trim() !== policy.aeTitle.trim()) {
    return { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CalledAeNotRecognized,
      why: `called AE title "${calledAeTitle}" is not "${policy.aeTitle}"`, code: 'MIPSEG_AE_TITLE_REFUSED' };
  }
  const allowed = policy.allowedCallingAeTitles;
  if (allowed.length > 0 && !isAllowedPeer(callingAeTitle, peerAddress, allowed)) {
    return { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CallingAeNotRecognized,
      why: `calling AE title "${callingAeTitle}" from ${peerAddress ?? 'an unknown address'} is not on the allow-list`, code: 'MIPSEG_AE_TITLE_REFUSED' };
  }
  return undefined;
}

/** A transient rejection (PS3.8 9.3.4 source 3): the peer may try again later. */
export function busyRejection(why: string, reason: 'local-limit' | 'congestion'): AssociationRejection {
  return {
    result: RejectResult.Transient,
    source: RejectSource.ServiceProviderPresentation,
    reason: reason === 'local-limit' ? RejectReason.LocalLimitExceeded : RejectReason.TemporaryCongestion,
    why,
    code: 'MIPSEG_BUSY',
  };
}

function isAcceptedAbstractSyntax(uid: string): boolean {
  return uid === VERIFICATION_SOP_CLASS || isSupportedStorageSopClass(uid);
}

function isDecodable(uid: string): boolean {
  return ACCEPTED_TRANSFER_SYNTAXES.has(uid) && !STORED_NOT_DECODED_TRANSFER_SYNTAXES.has(uid);
}

/** Native Little Endian: what any SCU holding Big Endian can write instead, by byte-swapping alone. */
const LITTLE_ENDIAN_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TransferSyntax.ImplicitVrLittleEndian,
  TransferSyntax.ExplicitVrLittleEndian,
]);

/** The abstract syntaxes for which some proposed context offers Implicit or Explicit VR Little Endian. */
function littleEndianAbstractSyntaxes(request: association.Association): Set<string> {
  const littleEndian = new Set<string>();
  for (const { context } of request.getPresentationContexts()) {
    if (context.getTransferSyntaxUids().some((uid) => LITTLE_ENDIAN_TRANSFER_SYNTAXES.has(uid))) {
      littleEndian.add(context.getAbstractSyntaxUid());
    }
  }
  return littleEndian;
}

/**
 * The proposed transfer syntaxes this context may be accepted with. Big Endian is passed over, in this context and
 * the SCU's others, when any context for the same abstract syntax offers Little Endian: an SCU proposing each syntax
 * in a context of its own (`storescu -xb -R`) sends on the first one accepted, and a Big Endian copy is a PET series
 * not analysed (and, re-sent, a good copy replaced: same-data-set compares Big Endian as different). An SCU that
 * holds Big Endian can write Little Endian losslessly by byte-swapping, so this holds for every SOP class. A
 * compressed syntax proposed elsewhere is no such way out: an SCU that proposes one context per file's syntax
 * (pynetdicom, routers) and holds one file as JPEG Lossless and one as Big Endian would have to compress on the fly
 * to send the second, which such SCUs cannot, so its Big Endian-only context is accepted. Within one context, a
 * syntax mipseg decodes is still preferred to Big Endian (negotiatePresentationContexts).
 */
function storableTransferSyntaxes(context: association.PresentationContext, littleEndianElsewhere: boolean): string[] {
  return context.getTransferSyntaxUids().filter((uid) => ACCEPTED_TRANSFER_SYNTAXES.has(uid)
    && !(littleEndianElsewhere && uid === TransferSyntax.ExplicitVrBigEndian));
}

/**
 * Sets the result of every proposed presentation context. Of the proposed transfer syntaxes the first one
 * we accept wins, as in pynetdicom: the SCU lists what its data is in first, and taking that spares it a
 * conversion (and keeps what we store identical to what it holds) — unless it is one the worker cannot
 * decode and the SCU offers another we accept, which then wins: a big-endian copy kept is a study not analysed.
 * A context that offers only Big Endian is rejected (PS3.8 9.3.3.2, result 4) where another context for its
 * abstract syntax offers Little Endian (see storableTransferSyntaxes). Returns the accepted contexts.
 */
export function negotiatePresentationContexts(request: association.Association): association.PresentationContext[] {
  const accepted: association.PresentationContext[] = [];
  const littleEndian = littleEndianAbstractSyntaxes(request);
  for (const { context } of request.getPresentationContexts()) {
    const abstractSyntax = context.getAbstractSyntaxUid();
    if (!isAcceptedAbstractSyntax(abstractSyntax)) {
      context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
      continue;
    }
    const storable = storableTransferSyntaxes(context, littleEndian.has(abstractSyntax));
    const transferSyntax = storable.find(isDecodable) ?? storable[0];
    if (transferSyntax === undefined) {
      context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      continue;
    }
    context.setResult(PresentationContextResult.Accept, transferSyntax);
    accepted.push(context);
  }
  return accepted;
}
