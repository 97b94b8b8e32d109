import { isUncompressed, TransferSyntax } from '../dicom/transfer-syntaxes';
import type { InstanceHeader } from '../dicom/parse-header';
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

/**
 * Why an instance cannot be stored as it is encoded: a transfer syntax not accepted (0xC122), or Pixel Data whose
 * encoding is not its transfer syntax's (native under a compressed syntax, or encapsulated under a native one: every
 * reader, the analysis and WADO-RS included, would misread the frames). Undefined where nothing is wrong. Checked by
 * the archive on every instance it receives, so that STOW-RS and C-STORE (whose association accepts only these
 * syntaxes, but whose data set may still be encoded otherwise) refuse alike. Deflate never gets here: the header
 * parse refuses it, with the same error, before it would misread the deflated bytes.
 */
export function storableEncodingRefusal(header: Pick<InstanceHeader, 'transferSyntaxUid' | 'hasPixelData' | 'encapsulated'>): MipsegError | undefined {
  const { transferSyntaxUid } = header;
  if (!ACCEPTED_TRANSFER_SYNTAXES.has(transferSyntaxUid)) {
    return new MipsegError('MIPSEG_TRANSFER_SYNTAX_NOT_SUPPORTED',
      `${transferSyntaxUid} is not one mipseg stores; send the instance in Explicit VR Little Endian or a syntax the README lists`);
  }
  if (!header.hasPixelData) return undefined;
  const native = isUncompressed(transferSyntaxUid);
  if (header.encapsulated !== native) return undefined;
  return new MipsegError('MIPSEG_DICOM_UNPARSEABLE', native
    ? `Pixel Data is encapsulated (compressed), but transfer syntax ${transferSyntaxUid} is a native one`
    : `Pixel Data is native (not encapsulated), but transfer syntax ${transferSyntaxUid} is a compressed one`);
}
