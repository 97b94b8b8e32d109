/**
 * Reads a MIP and a SEG file with pydicom (its own bit unpacking and rescale) and compares them with the raw
 * mask (uint8) and SUV (float32) files: prints one JSON object. Kept as text so the test needs no file in
 * the repo outside TypeScript; run as `python3 -c SCRIPT mip.dcm seg.dcm mask.u8 suv.f32`.
 */
export const PYDICOM_CHECK = String.raw`
import json, sys
import numpy as np
import pydicom
mip_path, seg_path, mask_path, suv_path = sys.argv[1:5]
mip = pydicom.dcmread(mip_path)
seg = pydicom.dcmread(seg_path)
mask = np.fromfile(mask_path, dtype=np.uint8)
suv = np.fromfile(suv_path, dtype=np.float32)
seg_pixels = seg.pixel_array
rows, cols = int(seg.Rows), int(seg.Columns)
suv_back = mip.pixel_array.astype(np.float64) * float(mip.RescaleSlope) + float(mip.RescaleIntercept)
print(json.dumps({
  "mipSopClass": str(mip.SOPClassUID),
  "segSopClass": str(seg.SOPClassUID),
  "mipShape": list(mip.pixel_array.shape),
  "segShape": list(seg_pixels.shape),
  "segEqualsMask": bool(np.array_equal(seg_pixels.reshape(-1).astype(np.uint8), mask)),
  "segOnes": int(seg_pixels.sum()),
  "maskOnes": int(mask.sum()),
  "suvMaxError": float(np.max(np.abs(suv_back.reshape(-1) - suv.astype(np.float64)))),
  "rescaleSlope": float(mip.RescaleSlope),
  "units": str(mip.Units),
  "segRefersTo": str(seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID),
  "mipUid": str(mip.SOPInstanceUID),
}))
`;
