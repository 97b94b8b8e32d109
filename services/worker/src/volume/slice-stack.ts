import { MipsegError } from '@mipseg/shared/errors';
import type { Vec3 } from './pet-volume';
import type { SliceHeader } from './slice-header';
import { add, cross, dot, formatPosition, norm, normalize, scale } from './vector';

/** How the slices of a series form one grid: their order along the slice normal and the grid's geometry. */
export interface SliceStack {
  /** Indices into the headers given, in volume order (increasing position along sliceDirection). */
  readonly order: readonly number[];
  readonly rowDirection: Vec3;
  readonly columnDirection: Vec3;
  readonly sliceDirection: Vec3;
  readonly origin: Vec3;
  readonly sliceSpacing: number;
}

/** A spacing more than this fraction off the median is a gap (or an overlap), never silently resampled. */
export const MAX_SPACING_DEVIATION = 0.1;
/**
 * A slice may lie this fraction of one spacing off its grid position (origin + k x spacing), where the volume puts
 * it: scanners round positions (the GE series: 0.04 mm, 1 % of 3.27 mm), but a spacing that drifts within the
 * step check above (133 slices at 3.27 mm, then 134 at 3.56 mm) would leave slices many mm off.
 */
const MAX_GRID_OFFSET = 0.1;
/**
 * Closer than this along the normal, two slices claim the same position: a slice sent twice (with new SOP Instance
 * UIDs), or two reconstructions under one Series Instance UID a hair apart. No PET is reconstructed at under a
 * millimetre; rounding moves a position by hundredths.
 */
const DUPLICATE_POSITION_MM = 0.5;
/** Direction cosines agree when every component differs by less than this (DS values carry ~6 digits). */
const ORIENTATION_TOLERANCE = 1e-4;
/** Pixel spacings agree within this fraction. */
const SPACING_TOLERANCE = 1e-4;
/** A slice whose position leaves the stack's line by more than this fraction of a pixel is sheared or tilted. */
const IN_PLANE_TOLERANCE_PX = 0.1;

const invalid = (detail: string): MipsegError => new MipsegError('MIPSEG_VOLUME_INVALID', detail);

function assertSameGrid(headers: readonly SliceHeader[]): void {
  const first = headers[0] as SliceHeader;
  for (const h of headers) {
    const where = `instance ${h.sopInstanceUid} differs from ${first.sopInstanceUid}`;
    if (h.seriesInstanceUid !== first.seriesInstanceUid) throw invalid(`${where}: SeriesInstanceUID (mixed series)`);
    if (h.frameOfReferenceUid !== first.frameOfReferenceUid) throw invalid(`${where}: FrameOfReferenceUID`);
    if (h.rows !== first.rows || h.columns !== first.columns) {
      throw invalid(`${where}: size ${h.columns}x${h.rows} vs ${first.columns}x${first.rows}`);
    }
    if (h.pixelSpacing.some((s, i) => Math.abs(s - (first.pixelSpacing[i] as number)) > SPACING_TOLERANCE * s)) {
      throw invalid(`${where}: PixelSpacing ${h.pixelSpacing.join('\\')} vs ${first.pixelSpacing.join('\\')}`);
    }
    if (h.imageOrientationPatient.some((c, i) => Math.abs(c - (first.imageOrientationPatient[i] as number)) > ORIENTATION_TOLERANCE)) {
      throw invalid(`${where}: ImageOrientationPatient ${h.imageOrientationPatient.join('\\')} vs ${first.imageOrientationPatient.join('\\')}`);
    }
  }
}

function assertDistinctInstances(headers: readonly SliceHeader[]): void {
  const seen = new Set<string>();
  for (const h of headers) {
    if (seen.has(h.sopInstanceUid)) throw invalid(`instance ${h.sopInstanceUid} is given twice`);
    seen.add(h.sopInstanceUid);
  }
}

function planeDirections(iop: SliceHeader['imageOrientationPatient']): [Vec3, Vec3] {
  const row: Vec3 = [iop[0], iop[1], iop[2]];
  const column: Vec3 = [iop[3], iop[4], iop[5]];
  if (Math.abs(norm(row) - 1) > 1e-3 || Math.abs(norm(column) - 1) > 1e-3 || Math.abs(dot(row, column)) > 1e-3) {
    throw invalid(`ImageOrientationPatient ${iop.join('\\')} is not two orthogonal unit vectors`);
  }
  return [normalize(row), normalize(column)];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Describes the spacing between slices a and b that is off the median: missing slices by position, or irregular. */
function describeGap(a: SliceHeader, b: SliceHeader, spacing: number, typical: number, normal: Vec3): string {
  const between = `between instances ${a.sopInstanceUid} and ${b.sopInstanceUid}`;
  const found = `spacing ${spacing.toFixed(3)} mm where the median is ${typical.toFixed(3)} mm`;
  const missing = Math.round(spacing / typical) - 1;
  if (missing >= 1 && Math.abs(spacing - (missing + 1) * typical) <= MAX_SPACING_DEVIATION * typical) {
    const positions = Array.from({ length: Math.min(missing, 3) }, (_, m) =>
      formatPosition(add(a.imagePositionPatient, scale(normal, (m + 1) * typical))));
    const more = missing > 3 ? ` and ${missing - 3} more` : '';
    return `gap: ${missing} slice(s) missing ${between}, expected at ImagePositionPatient ${positions.join(', ')}${more} mm (${found})`;
  }
  return `irregular slice spacing ${between}: ${found}`;
}

function assertRegularSpacing(sorted: readonly SliceHeader[], positions: readonly number[], normal: Vec3): void {
  const spacings = positions.slice(1).map((p, i) => p - (positions[i] as number));
  spacings.forEach((s, i) => {
    if (s < DUPLICATE_POSITION_MM) {
      const a = sorted[i] as SliceHeader;
      const b = sorted[i + 1] as SliceHeader;
      const where = s < 0.005 ? 'both lie at' : `lie ${s.toFixed(2)} mm apart, at`;
      throw invalid(`duplicate position: instances ${a.sopInstanceUid} and ${b.sopInstanceUid} ${where} ` +
        `ImagePositionPatient ${formatPosition(b.imagePositionPatient)} mm (a slice sent twice, or two reconstructions in one series)`);
    }
  });
  const typical = median(spacings);
  spacings.forEach((s, i) => {
    if (Math.abs(s - typical) > MAX_SPACING_DEVIATION * typical) {
      throw invalid(describeGap(sorted[i] as SliceHeader, sorted[i + 1] as SliceHeader, s, typical, normal));
    }
  });
}

/** Every slice within MAX_GRID_OFFSET of one spacing of origin + k x spacing, the place the volume gives it. */
function assertOnGrid(sorted: readonly SliceHeader[], positions: readonly number[], spacing: number): void {
  const offsets = positions.map((p, k) => p - ((positions[0] as number) + k * spacing));
  const k = offsets.reduce((worst, o, i) => (Math.abs(o) > Math.abs(offsets[worst] as number) ? i : worst), 0);
  const offset = offsets[k] as number;
  if (Math.abs(offset) <= MAX_GRID_OFFSET * spacing) return;
  const h = sorted[k] as SliceHeader;
  throw invalid(`slice ${k + 1} of ${sorted.length} (instance ${h.sopInstanceUid}, ImagePositionPatient ` +
    `${formatPosition(h.imagePositionPatient)} mm) lies ${offset.toFixed(2)} mm off its grid position, first slice + ` +
    `${k} x ${spacing.toFixed(3)} mm: the slice spacing drifts along the series (more than ` +
    `${MAX_GRID_OFFSET * 100} % of one spacing is not resampled)`);
}

function assertOnLine(sorted: readonly SliceHeader[], positions: readonly number[], normal: Vec3): void {
  const first = sorted[0] as SliceHeader;
  const tolerance = IN_PLANE_TOLERANCE_PX * Math.min(...first.pixelSpacing);
  sorted.forEach((h, i) => {
    const along = scale(normal, (positions[i] as number) - (positions[0] as number));
    const offset = add(h.imagePositionPatient, scale(add(first.imagePositionPatient, along), -1));
    if (norm(offset) > tolerance) {
      throw invalid(`instance ${h.sopInstanceUid} is displaced ${norm(offset).toFixed(2)} mm in the image plane from ` +
        `the line of slices (gantry tilt or slices of different reconstructions)`);
    }
  });
}

/**
 * Orders single-frame slices along their normal (row x column direction, by dot(ImagePositionPatient, normal))
 * and checks they form one regular grid. Throws MIPSEG_VOLUME_INVALID naming the problem: fewer than 2 slices,
 * mixed series/size/spacing/orientation, duplicate positions, a gap (with the missing position), a slice off its
 * grid position (a drifting spacing) or a shear.
 */
export function stackSlices(headers: readonly SliceHeader[]): SliceStack {
  if (headers.length < 2) throw invalid(`${headers.length} slice(s); a volume needs at least 2`);
  assertDistinctInstances(headers);
  assertSameGrid(headers);
  const [rowDirection, columnDirection] = planeDirections((headers[0] as SliceHeader).imageOrientationPatient);
  const sliceDirection = normalize(cross(rowDirection, columnDirection));
  const order = headers.map((h, i) => ({ i, d: dot(h.imagePositionPatient, sliceDirection) }))
    .sort((a, b) => a.d - b.d);
  const sorted = order.map((o) => headers[o.i] as SliceHeader);
  const positions = order.map((o) => o.d);
  assertRegularSpacing(sorted, positions, sliceDirection);
  const sliceSpacing = ((positions[positions.length - 1] as number) - (positions[0] as number)) / (positions.length - 1);
  assertOnGrid(sorted, positions, sliceSpacing);
  assertOnLine(sorted, positions, sliceDirection);
  return {
    order: order.map((o) => o.i),
    rowDirection,
    columnDirection,
    sliceDirection,
    origin: (sorted[0] as SliceHeader).imagePositionPatient,
    sliceSpacing,
  };
}
