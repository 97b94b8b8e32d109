import { isUncompressed, TransferSyntax } from '../dicom/transfer-syntaxes';
import { readFileMetaInformation } from '../dicom/file-meta';
import { parseInstanceHeader } from '../dicom/parse-header';
import { MipsegError } from '../errors';

/**
 * Transfer syntaxes the archive stores, by C-STORE (what an association accepts) and STOW-RS alike. The data set is
 * stored as received, so this lists what the archive can keep and serve, not what mipseg can decode. Deflate is left
 * out: its bytes are not DICOM elements until inflated, and the header reader does not inflate.
 */
export const ACCEPTED_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TransferSyntax.ImplicitVrLittleEndian,
  TransferSyntax.ExplicitVrLittleEndian,
  TransferSyntax.ExplicitVrBigEndian,
  TransferSyntax.JpegLossless,
  TransferSyntax.JpegLosslessSv1,
  TransferSyntax.JpegLsLossless,
  TransferSyntax.JpegLsNearLossless,
  TransferSyntax.Jpeg2000Lossless,
  TransferSyntax.Jpeg2000,
  TransferSyntax.RleLossless,
  TransferSyntax.JpegBaseline,
  TransferSyntax.JpegExtended,
  TransferSyntax.Htj2kLossless,
  TransferSyntax.Htj2kLosslessRpcl,
  TransferSyntax.Htj2k,
]);

function notAccepted(transferSyntaxUid: string): MipsegError {
  return new MipsegError('MIPSEG_TRANSFER_SYNTAX_NOT_SUPPORTED', transferSyntaxUid === TransferSyntax.DeflatedExplicitVrLittleEndian
    ? `Deflated Explicit VR Little Endian (${transferSyntaxUid}) is not accepted: nothing here inflates it; send the instance uncompressed`
    : `${transferSyntaxUid} is not one mipseg stores; send the instance in Explicit VR Little Endian or a syntax the README lists`);
}

/**
 * Why a PS3.10 file (its first bytes `head`, of `size`) cannot be stored as it is encoded: a transfer syntax not
 * accepted (0xC122), or Pixel Data whose encoding is not its transfer syntax's (native under a compressed syntax, or
 * encapsulated under a native one: every reader, the analysis and WADO-RS included, would misread the frames).
 * Undefined where nothing is wrong, or where the head cannot tell (no File Meta, a header past the head): the
 * archive's own parse then says what is wrong, if anything.
 */
export function storableEncodingRefusal(head: Uint8Array, size: number): MipsegError | undefined {
  let transferSyntaxUid: string;
  try {
    transferSyntaxUid = readFileMetaInformation(head).transferSyntaxUid;
  } catch {
    return undefined;
  }
  if (!ACCEPTED_TRANSFER_SYNTAXES.has(transferSyntaxUid)) return notAccepted(transferSyntaxUid);
  let encapsulated: boolean;
  try {
    const header = parseInstanceHeader(head, size);
    if (!header.hasPixelData) return undefined;
    encapsulated = header.encapsulated;
  } catch {
    return undefined;
  }
  const native = isUncompressed(transferSyntaxUid);
  if (encapsulated !== native) return undefined;
  return new MipsegError('MIPSEG_DICOM_UNPARSEABLE', native
    ? `Pixel Data is encapsulated (compressed), but transfer syntax ${transferSyntaxUid} is a native one`
    : `Pixel Data is native (not encapsulated), but transfer syntax ${transferSyntaxUid} is a compressed one`);
}
