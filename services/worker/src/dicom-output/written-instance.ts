/** A DICOM instance mipseg wrote: the PS3.10 file (Explicit VR Little Endian) and the UIDs to reference it. */
export interface WrittenInstance {
  readonly bytes: Buffer;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  /**
   * Identifiers copied from the source longer than their VR allows, kept as they are (see text-value-lengths): the
   * result fails dciodvfy where the source does, and the analysis says which.
   */
  readonly overlongIdentifiers: readonly string[];
}
