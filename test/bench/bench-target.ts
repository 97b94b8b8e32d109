/** A DICOMweb server under test, seen only through its DICOMweb root (plus a way to count what it holds). */
export interface BenchTarget {
  readonly name: string;
  /** The DICOMweb root, without a trailing slash: STOW posts to `${dicomwebUrl}/studies`. */
  readonly dicomwebUrl: string;
  countInstances(): Promise<number>;
}
