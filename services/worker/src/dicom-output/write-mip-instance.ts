import { MIPSEG_MANUFACTURER, SopClass } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { Concept } from './coded-concepts';
import {
  acquisitionEquipmentItem,
  contributingEquipmentItem,
  WHOLE_BODY,
  generalEquipmentModule,
  lossyCompressionAttributes,
  patientAndStudyModules,
  referencedSeriesItem,
  sopCommonModule,
} from './common-modules';
import { codeItem } from './dicom-values';
import { greyscalePixelModule, imagePlaneAttributes, patientOrientation, pixelDataValue } from './image-plane';
import { writePart10, type NaturalDataset } from './part10';
import { petImageTiming, petSeriesModule, suvRealWorldValueMapping } from './pet-mip-modules';
import { assertImageGeometry, type RenderedMip } from './rendered-mip';
import type { SourceSeriesContext } from './source-series-context';
import { quantizeSuv, type QuantizedSuv } from './suv-quantization';
import { fitTextToVrs } from './text-value-lengths';
import { resolveWriteContext, resultSeries, type DerivedInstanceOptions, type ResolvedWriteContext } from './write-options';
import type { WrittenInstance } from './written-instance';

// ASCII: a PACS or viewer limited to Latin-1 shows an em dash in a UTF-8 description as '?' or worse.
export const MIP_SERIES_TITLE = 'MIP (SUV)';
export const DEFAULT_MIP_SERIES_NUMBER = 9001;
// The display window of the DM i AI MIPs the model was trained on (suvWhite 6): SUV 0 to 6. As the default
// LINEAR VOI function reads it (PS3.3 C.11.2.1.2.1: c − 0.5 ± (w − 1)/2), that is center 3.5, width 7.
const WINDOW_SUV = { center: 3.5, width: 7 };

/**
 * Writes the MIP as a one-image derived PET series in the source's study (PET Image Storage; see
 * docs in the folder's index for why): stored values × RescaleSlope = SUVbw (Units GML, plus a Real World
 * Value Mapping), its own coronal geometry in the source's Frame of Reference, and references to every
 * source instance. Throws MIPSEG_DICOM_OUTPUT_INVALID for an unusable MIP.
 */
export function writeMipInstance(mip: RenderedMip, source: SourceSeriesContext, options: DerivedInstanceOptions): WrittenInstance {
  assertImageGeometry(mip);
  if (mip.suv.length !== mip.width * mip.height) {
    throw new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID', `${mip.suv.length} SUV values for ${mip.width}x${mip.height} pixels`);
  }
  const ctx = resolveWriteContext(options, source.TimezoneOffsetFromUTC);
  const sopInstanceUid = ctx.newUid();
  const seriesInstanceUid = ctx.newUid();
  const quantized = quantizeSuv(mip.suv);
  const dataset: NaturalDataset = {
    ...sopCommonModule(SopClass.PositronEmissionTomographyImageStorage, sopInstanceUid, ctx.now),
    ...patientAndStudyModules(source),
    Modality: 'PT',
    SeriesInstanceUID: seriesInstanceUid,
    ...resultSeries(options, DEFAULT_MIP_SERIES_NUMBER, MIP_SERIES_TITLE, source.SeriesNumber),
    BodyPartExamined: WHOLE_BODY,
    ...petSeriesModule(source),
    FrameOfReferenceUID: source.FrameOfReferenceUID,
    PositionReferenceIndicator: source.PositionReferenceIndicator,
    ...generalEquipmentModule(options.equipment),
    ContributingEquipmentSequence: mipContributors(source, options, ctx),
    ...generalImage(source, ctx),
    PatientOrientation: patientOrientation(mip),
    ...imagePlaneAttributes(mip),
    ...mipPixels(mip, quantized),
    ...petImageTiming(source),
    RealWorldValueMappingSequence: [suvRealWorldValueMapping(quantized)],
    ReferencedSeriesSequence: [referencedSeriesItem(source.SeriesInstanceUID, source.instances)],
  };
  const { dataset: fitted, overlongIdentifiers } = fitTextToVrs(dataset);
  return { bytes: writePart10(fitted), sopClassUid: SopClass.PositronEmissionTomographyImageStorage, sopInstanceUid, seriesInstanceUid, overlongIdentifiers };
}

function mipContributors(source: SourceSeriesContext, options: DerivedInstanceOptions, ctx: ResolvedWriteContext): NaturalDataset[] {
  const mipseg = contributingEquipmentItem({
    purpose: Concept.processingEquipment,
    manufacturer: MIPSEG_MANUFACTURER,
    manufacturerModelName: options.equipment.manufacturerModelName,
    softwareVersions: options.equipment.softwareVersions,
    deviceSerialNumber: options.equipment.deviceSerialNumber,
    description: 'SUVbw conversion and coronal maximum-intensity projection',
    dateTime: ctx.now,
  });
  const scanner = acquisitionEquipmentItem(source);
  return scanner ? [scanner, mipseg] : [mipseg];
}

function generalImage(source: SourceSeriesContext, ctx: ResolvedWriteContext): NaturalDataset {
  return {
    InstanceNumber: 1,
    ContentDate: ctx.now.date,
    ContentTime: ctx.now.time,
    // The PET Image module allows only PRIMARY as value 2 (C.8.9.4.1.1); value 3 names the projection.
    ImageType: ['DERIVED', 'PRIMARY', 'MIP'],
    DerivationDescription: `Coronal maximum-intensity projection of PET series ${source.SeriesInstanceUID} in SUVbw ` +
      `(source units ${source.Units || 'unknown'}); stored value × RescaleSlope = SUVbw`,
    DerivationCodeSequence: [codeItem(Concept.maximumIntensityProjection)],
    // Every source slice, without the Type 3 PurposeOfReferenceCodeSequence: on a whole-body series (hundreds
    // of slices) it doubled the elements dcmjs writes, and so the write stage's CPU, while saying nothing that
    // DerivationCodeSequence (MIP) does not. The SEG's single source reference keeps its purpose code.
    SourceImageSequence: source.instances.map((i) => ({
      ReferencedSOPClassUID: i.SOPClassUID,
      ReferencedSOPInstanceUID: i.SOPInstanceUID,
    })),
    BurnedInAnnotation: 'NO',
    ...lossyCompressionAttributes(source),
  };
}

function mipPixels(mip: RenderedMip, q: QuantizedSuv): NaturalDataset {
  const bytes = new Uint8Array(q.stored.buffer, q.stored.byteOffset, q.stored.byteLength);
  return {
    ...greyscalePixelModule(mip, 16, q.pixelRepresentation),
    RescaleIntercept: '0',
    RescaleSlope: q.rescaleSlopeDs,
    WindowCenter: String(WINDOW_SUV.center),
    WindowWidth: String(WINDOW_SUV.width),
    WindowCenterWidthExplanation: 'SUVbw 0 to 6',
    PixelData: pixelDataValue(bytes),
    _vrMap: { PixelData: 'OW' },
  };
}
