import { encodeFileMetaInformation, readFileMetaInformation, SopClass, TransferSyntax } from '@mipseg/shared/dicom';
import { HEADER_PROBE_BYTES } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';

const FRAME_COMMENTS = 'per-frame functional group '.repeat(40);
const ITEMS = Math.ceil(HEADER_PROBE_BYTES / FRAME_COMMENTS.length) + 64;
const ITEM_TAG = Buffer.from([0xfe, 0xff, 0x00, 0xe0]);

/** The calling AE title to send the instance with by C-STORE, so that the SCP writes the same File Meta. */
export const HEADER_PAST_PROBE_AE_TITLE = 'HDRPASTPROBE';

function write(sopInstanceUid: string, firstItemPadding: number): Buffer {
  const comments = (i: number) => (i === 0 ? FRAME_COMMENTS + ' '.repeat(firstItemPadding) : FRAME_COMMENTS);
  const dcmjsFile = Buffer.from(syntheticPetInstance({
    sopInstanceUid,
    imagePositionPatient: [0, 0, 0],
    stored: [1, 2, 3, 4],
    attributes: {
      PerFrameFunctionalGroupsSequence: Array.from({ length: ITEMS }, (_, i) => ({ FrameContentSequence: [{ FrameComments: comments(i) }] })),
    },
  }));
  // The File Meta that mipseg's C-STORE SCP writes for it, so that both paths parse the same bytes.
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: SopClass.PositronEmissionTomographyImageStorage,
    mediaStorageSopInstanceUid: sopInstanceUid,
    transferSyntaxUid: TransferSyntax.ExplicitVrLittleEndian,
    sourceApplicationEntityTitle: HEADER_PAST_PROBE_AE_TITLE,
  });
  return Buffer.concat([meta, dcmjsFile.subarray(readFileMetaInformation(dcmjsFile).dataSetOffset)]);
}

/**
 * A whole, valid PET instance whose header runs past the archive's first HEADER_PROBE_BYTES inside its Per-frame
 * Functional Groups Sequence, as the headers of enhanced multi-frame images and many-frame SEGs from other systems
 * do; dcmjs writes every sequence and item with undefined length. The probe ends exactly where an item begins: there
 * dicom-parser stops without a word (inside an element it throws), which is the case that refused such images.
 */
export function instanceWithHeaderPastProbe(sopInstanceUid: string): Buffer {
  const unaligned = write(sopInstanceUid, 0);
  const file = write(sopInstanceUid, HEADER_PROBE_BYTES - unaligned.lastIndexOf(ITEM_TAG, HEADER_PROBE_BYTES));
  if (!file.subarray(HEADER_PROBE_BYTES, HEADER_PROBE_BYTES + ITEM_TAG.length).equals(ITEM_TAG)) {
    throw new Error('no item begins where the header probe ends');
  }
  return file;
}
