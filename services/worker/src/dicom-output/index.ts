/**
 * mipseg's DICOM results: the MIP as a derived PET image and the tumour mask as a BINARY SEG on it.
 *
 * Why PET Image Storage for the MIP: it is the only widely displayed SOP class that keeps SUV semantics
 * (Units GML, SUVType BW, the radiopharmaceutical and patient weight), viewers (OHIF, Orthanc, PACS) show it
 * with their PET tools, and the PET Series module defines exactly this image: Series Type REPROJECTION with
 * Reprojection Method MAX PIXEL. It validates with zero dciodvfy errors. Its one constraint is Image Type
 * value 2 = PRIMARY (so DERIVED\PRIMARY\MIP, not DERIVED\SECONDARY). Secondary Capture would lose the
 * Frame of Reference and the units; Enhanced PET and Parametric Map are displayed by few viewers.
 */
export type { SourceSeriesContext, SourceInstanceRef, DicomItem } from './source-series-context';
export { readComparedAttributes, readSourceSeriesContext } from './read-source-series-context';
export type { ParsedSourceSeries } from './read-source-series-context';
export type { RenderedMip, ImageGeometry } from './rendered-mip';
export type { WrittenInstance } from './written-instance';
export { algorithmFromManifest } from './write-options';
export type { AlgorithmIdentity, DerivedInstanceOptions, EquipmentIdentity } from './write-options';
export { writeMipInstance, MIP_SERIES_TITLE, DEFAULT_MIP_SERIES_NUMBER } from './write-mip-instance';
export {
  writeSegInstance,
  SEG_SERIES_TITLE,
  SEG_NO_FINDINGS_SUFFIX,
  DEFAULT_SEG_SERIES_NUMBER,
} from './write-seg-instance';
export type { ReferencedImage, SegWriteOptions } from './write-seg-instance';
export { DEFAULT_SEGMENT_LABEL } from './tumour-segment';
export { readSegMask } from './read-seg-mask';
export type { SegMask } from './read-seg-mask';
export { packBits, unpackBits } from './pack-bits';
export { quantizeSuv } from './suv-quantization';
export type { QuantizedSuv } from './suv-quantization';
