import * as dcmjs from 'dcmjs';

/** One closed planar contour of an RTSTRUCT ROI, as patient coordinates [x, y, z] in mm. */
export type Contour = Array<[number, number, number]>;

/** The contours of the named ROI (or of the first ROI) of an RTSTRUCT file. */
export function readRoiContours(bytes: Buffer, roiName?: string): Contour[] {
  const parsed = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict) as {
    StructureSetROISequence: Array<{ ROINumber: number; ROIName: string }> | { ROINumber: number; ROIName: string };
    ROIContourSequence: Array<RoiContour> | RoiContour;
  };
  const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  const rois = asArray(ds.StructureSetROISequence);
  const number = (roiName ? rois.find((r) => r.ROIName === roiName) : rois[0])?.ROINumber;
  const roi = asArray(ds.ROIContourSequence).find((r) => r.ReferencedROINumber === number);
  return asArray(roi?.ContourSequence ?? []).map((c) => {
    const out: Contour = [];
    for (let i = 0; i + 2 < c.ContourData.length; i += 3) out.push([c.ContourData[i] as number, c.ContourData[i + 1] as number, c.ContourData[i + 2] as number]);
    return out;
  });
}

interface RoiContour {
  ReferencedROINumber: number;
  ContourSequence: Array<{ ContourData: number[] }> | { ContourData: number[] };
}
