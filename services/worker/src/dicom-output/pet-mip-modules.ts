import { MipsegError } from '@mipseg/shared/errors';
import { Concept } from './coded-concepts';
import { fitDa, fitTm, withWritableTimes } from './common-modules';
import { codeItem, formatDs } from './dicom-values';
import type { NaturalDataset } from './part10';
import type { SourceSeriesContext } from './source-series-context';
import type { QuantizedSuv } from './suv-quantization';

/** PET Series (C.8.9.1): a reprojection (Series Type value 2) by maximum pixel, in SUVbw (Units GML). */
export function petSeriesModule(source: SourceSeriesContext): NaturalDataset {
  if (source.DecayCorrection === '') {
    throw new MipsegError('MIPSEG_SOURCE_SERIES_INVALID', 'DecayCorrection missing: the SUV reference time is unknown');
  }
  // The source's SeriesDate/Time and acquisition date/time are fitted as they are read; the study's, as they are written.
  const seriesDate = source.SeriesDate || source.AcquisitionDate || fitDa(source.StudyDate);
  const seriesTime = source.SeriesTime || source.AcquisitionTime || fitTm(source.StudyTime);
  if (seriesDate === '' || seriesTime === '') {
    throw new MipsegError('MIPSEG_SOURCE_SERIES_INVALID', 'no SeriesDate/SeriesTime (nor acquisition or study date and time)');
  }
  return {
    // Kept from the source: for DecayCorrection START they are the time the SUVs are decay corrected to.
    SeriesDate: seriesDate,
    SeriesTime: seriesTime,
    Units: 'GML',
    SUVType: 'BW',
    CountsSource: source.CountsSource || 'EMISSION',
    // A dynamic or gated source is projected one frame at a time: the projection itself is static.
    SeriesType: [source.SeriesType[0] === 'WHOLE BODY' ? 'WHOLE BODY' : 'STATIC', 'REPROJECTION'],
    ReprojectionMethod: 'MAX PIXEL',
    NumberOfSlices: 1,
    CorrectedImage: [...source.CorrectedImage],
    DecayCorrection: source.DecayCorrection,
    CollimatorType: source.CollimatorType,
    ...(source.AttenuationCorrectionMethod ? { AttenuationCorrectionMethod: source.AttenuationCorrectionMethod } : {}),
    ...(source.ReconstructionMethod ? { ReconstructionMethod: source.ReconstructionMethod } : {}),
    // PET Isotope and NM/PET Patient Orientation, unchanged (Type 2: empty when the source has none).
    RadiopharmaceuticalInformationSequence: source.RadiopharmaceuticalInformationSequence.map(withWritableTimes),
    PatientOrientationCodeSequence: [...source.PatientOrientationCodeSequence],
    PatientGantryRelationshipCodeSequence: [...source.PatientGantryRelationshipCodeSequence],
  };
}

/**
 * PET Image (C.8.9.4) timing. A whole-body MIP spans bed positions that each have their own frame reference
 * time and decay factor; where the source instances disagree no single value is true, so the MIP states
 * that its values stand at the decay-correction reference (FrameReferenceTime 0, DecayFactor 1).
 */
export function petImageTiming(source: SourceSeriesContext): NaturalDataset {
  return {
    FrameReferenceTime: formatDs(source.FrameReferenceTime ?? 0),
    ActualFrameDuration: source.ActualFrameDuration === null ? '' : String(Math.round(source.ActualFrameDuration)),
    AcquisitionDate: source.AcquisitionDate,
    AcquisitionTime: source.AcquisitionTime,
    ImageIndex: 1,
    ...(source.DecayCorrection !== 'NONE' ? { DecayFactor: formatDs(source.DecayFactor ?? 1) } : {}),
  };
}

/** Real World Value Mapping (C.7.6.16.2.11): stored value → SUVbw, for viewers that do not read Units. */
export function suvRealWorldValueMapping(q: QuantizedSuv): NaturalDataset {
  const signed = q.pixelRepresentation === 1;
  return {
    LUTExplanation: 'Standardized Uptake Value body weight',
    LUTLabel: 'SUVbw',
    MeasurementUnitsCodeSequence: [codeItem(Concept.suvBodyWeightUnits)],
    RealWorldValueFirstValueMapped: signed ? -0x8000 : 0,
    RealWorldValueLastValueMapped: signed ? 0x7fff : 0xffff,
    RealWorldValueIntercept: 0,
    RealWorldValueSlope: q.rescaleSlope,
    QuantityDefinitionSequence: [
      { ValueType: 'CODE', ConceptNameCodeSequence: [codeItem(Concept.quantity)], ConceptCodeSequence: [codeItem(Concept.standardizedUptakeValue)] },
      { ValueType: 'CODE', ConceptNameCodeSequence: [codeItem(Concept.measurementMethod)], ConceptCodeSequence: [codeItem(Concept.suvBodyWeightMethod)] },
    ],
    // The first/last value mapped are US or SS in the dictionary: say which.
    _vrMap: { RealWorldValueFirstValueMapped: signed ? 'SS' : 'US', RealWorldValueLastValueMapped: signed ? 'SS' : 'US' },
  };
}
