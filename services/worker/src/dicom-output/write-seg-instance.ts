import { MIPSEG_MANUFACTURER, SopClass } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { Concept } from './coded-concepts';
import {
  contributingEquipmentItem,
  generalEquipmentModule,
  lossyCompressionAttributes,
  patientAndStudyModules,
  referencedSeriesItem,
  sopCommonModule,
  WHOLE_BODY,
} from './common-modules';
import { codeItem } from './dicom-values';
import { greyscalePixelModule, imagePlaneAttributes, pixelDataValue } from './image-plane';
import { packBits } from './pack-bits';
import { writePart10, type NaturalDataset } from './part10';
import { assertImageGeometry, type ImageGeometry } from './rendered-mip';
import type { DicomItem, SourceSeriesContext } from './source-series-context';
import { fitTextToVrs } from './text-value-lengths';
import { DEFAULT_SEGMENT_LABEL, TUMOUR_SEGMENT_NUMBER, tumourSegmentItem } from './tumour-segment';
import {
  assertType1LongStrings, resolveWriteContext, resultSeries, type AlgorithmIdentity, type DerivedInstanceOptions, type ResolvedWriteContext,
} from './write-options';
import type { WrittenInstance } from './written-instance';

/** The image a SEG is drawn on (mipseg's MIP instance) and its geometry, which the SEG shares. */
export interface ReferencedImage {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly geometry: ImageGeometry;
}

export interface SegWriteOptions extends DerivedInstanceOptions {
  /** The AI model (see algorithmFromManifest). */
  readonly algorithm: AlgorithmIdentity;
  /** SegmentLabel. Default 'FDG-avid tumour'. */
  readonly segmentLabel?: string;
}

// ASCII, as MIP_SERIES_TITLE.
export const SEG_SERIES_TITLE = 'Tumour SEG (MIP)';
export const SEG_NO_FINDINGS_SUFFIX = ': none found';
export const DEFAULT_SEG_SERIES_NUMBER = 9002;
const TAG_REFERENCED_SEGMENT_NUMBER = 0x0062000b;
const TAG_SEGMENT_IDENTIFICATION_SEQUENCE = 0x0062000a;
const TAG_IMAGE_POSITION_PATIENT = 0x00200032;
const TAG_PLANE_POSITION_SEQUENCE = 0x00209113;

/**
 * Writes a BINARY Segmentation of the mask (0/1, row-major, on the referenced image's grid) with one segment
 * and one frame. An empty mask (no tumour found) still gives a SEG, with one all-zero frame and
 * "none found" in its SeriesDescription and ContentDescription: an explicit negative result that a
 * radiologist can tell apart from "not analysed". Throws MIPSEG_DICOM_OUTPUT_INVALID when the mask does not
 * fit the image or holds values other than 0 and 1.
 */
export function writeSegInstance(
  mask: Uint8Array, image: ReferencedImage, source: SourceSeriesContext, options: SegWriteOptions,
): WrittenInstance {
  const g = image.geometry;
  assertImageGeometry(g);
  if (mask.length !== g.width * g.height) {
    throw new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID', `mask of ${mask.length} values for a ${g.width}x${g.height} image`);
  }
  const label = options.segmentLabel ?? DEFAULT_SEGMENT_LABEL;
  assertType1LongStrings({ AlgorithmName: options.algorithm.name, AlgorithmVersion: options.algorithm.version, SegmentLabel: label });
  const packed = packBits(mask);
  const empty = !mask.includes(1);
  const ctx = resolveWriteContext(options, source.TimezoneOffsetFromUTC);
  const sopInstanceUid = ctx.newUid();
  const seriesInstanceUid = ctx.newUid();
  const dataset: NaturalDataset = {
    ...sopCommonModule(SopClass.SegmentationStorage, sopInstanceUid, ctx.now),
    ...patientAndStudyModules(source),
    Modality: 'SEG',
    SeriesInstanceUID: seriesInstanceUid,
    ...segSeries(options, empty, source.SeriesNumber),
    BodyPartExamined: WHOLE_BODY,
    FrameOfReferenceUID: source.FrameOfReferenceUID,
    PositionReferenceIndicator: source.PositionReferenceIndicator,
    ...generalEquipmentModule(options.equipment),
    ContributingEquipmentSequence: [algorithmContribution(options.algorithm, ctx)],
    ...segmentationImage(options.algorithm, label, empty, source, ctx),
    ...greyscalePixelModule(g, 1, 0),
    ...multiFrame(image, ctx.newUid()),
    ReferencedSeriesSequence: [referencedSeriesItem(image.seriesInstanceUid,
      [{ SOPClassUID: image.sopClassUid, SOPInstanceUID: image.sopInstanceUid }])],
    PixelData: pixelDataValue(packed),
    _vrMap: { PixelData: 'OB' },
  };
  const { dataset: fitted, overlongIdentifiers } = fitTextToVrs(dataset);
  return { bytes: writePart10(fitted), sopClassUid: SopClass.SegmentationStorage, sopInstanceUid, seriesInstanceUid, overlongIdentifiers };
}

function segSeries(options: SegWriteOptions, empty: boolean, sourceSeriesNumber: number | null): NaturalDataset {
  const series = resultSeries(options, DEFAULT_SEG_SERIES_NUMBER, SEG_SERIES_TITLE, sourceSeriesNumber);
  return { ...series, SeriesDescription: `${series.SeriesDescription}${empty ? SEG_NO_FINDINGS_SUFFIX : ''}` };
}

/** IHE AI Results: the model that produced the result, as Contributing Equipment. */
function algorithmContribution(algorithm: AlgorithmIdentity, ctx: ResolvedWriteContext): DicomItem {
  return contributingEquipmentItem({
    purpose: Concept.processingEquipment,
    manufacturer: MIPSEG_MANUFACTURER,
    manufacturerModelName: algorithm.name,
    softwareVersions: algorithm.version,
    deviceSerialNumber: '',
    description: `AI tumour segmentation (${algorithm.description}) on the coronal SUV MIP`,
    dateTime: ctx.now,
  });
}

function segmentationImage(
  algorithm: AlgorithmIdentity, label: string, empty: boolean, source: SourceSeriesContext, ctx: ResolvedWriteContext,
): NaturalDataset {
  return {
    InstanceNumber: 1,
    ContentDate: ctx.now.date,
    ContentTime: ctx.now.time,
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: 'TUMOUR',
    ContentDescription: empty ? 'No FDG-avid tumour found on the coronal SUV MIP' : 'FDG-avid tumour on the coronal SUV MIP',
    // Family-name form (a bare 'mipseg' is the retired PN form): the creator is the software, not a person.
    ContentCreatorName: `${MIPSEG_MANUFACTURER}^`,
    SegmentationType: 'BINARY',
    SegmentsOverlap: 'NO',
    SegmentSequence: [tumourSegmentItem(algorithm, label)],
    ...lossyCompressionAttributes(source),
  };
}

/** Multi-frame Functional Groups and Dimensions for the single frame: segment 1 at the image's position. */
function multiFrame(image: ReferencedImage, dimensionOrganizationUid: string): NaturalDataset {
  const plane = imagePlaneAttributes(image.geometry);
  const dimension = (indexPointer: number, groupPointer: number, label: string): DicomItem => ({
    DimensionOrganizationUID: dimensionOrganizationUid,
    DimensionIndexPointer: indexPointer,
    FunctionalGroupPointer: groupPointer,
    DimensionDescriptionLabel: label,
  });
  return {
    NumberOfFrames: 1,
    SharedFunctionalGroupsSequence: [{
      // SliceThickness is Type 1C here: a MIP without a slab depth gets its row spacing as a nominal value.
      PixelMeasuresSequence: [{
        PixelSpacing: plane.PixelSpacing,
        SliceThickness: plane.SliceThickness || plane.PixelSpacing[0],
      }],
      PlaneOrientationSequence: [{ ImageOrientationPatient: plane.ImageOrientationPatient }],
    }],
    PerFrameFunctionalGroupsSequence: [{
      FrameContentSequence: [{ DimensionIndexValues: [TUMOUR_SEGMENT_NUMBER, 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: plane.ImagePositionPatient }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: TUMOUR_SEGMENT_NUMBER }],
      DerivationImageSequence: [{
        SourceImageSequence: [{
          ReferencedSOPClassUID: image.sopClassUid,
          ReferencedSOPInstanceUID: image.sopInstanceUid,
          PurposeOfReferenceCodeSequence: [codeItem(Concept.sourceImageForImageProcessing)],
          SpatialLocationsPreserved: 'YES',
        }],
        DerivationCodeSequence: [codeItem(Concept.segmentation)],
      }],
    }],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [
      dimension(TAG_REFERENCED_SEGMENT_NUMBER, TAG_SEGMENT_IDENTIFICATION_SEQUENCE, 'ReferencedSegmentNumber'),
      dimension(TAG_IMAGE_POSITION_PATIENT, TAG_PLANE_POSITION_SEQUENCE, 'ImagePositionPatient'),
    ],
  };
}
