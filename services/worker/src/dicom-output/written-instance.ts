/** A DICOM instance mipseg wrote: the PS3.10 file (Explicit VR Little Endian) and the UIDs to reference it. */
export interface WrittenInstance {
  readonly bytes: Buffer;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
}
