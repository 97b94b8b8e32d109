/** ReferencedSOPSequence: the instances a STOW-RS answer says were stored. */
const REFERENCED_SOP_SEQUENCE = '00081199';
/** FailedSOPSequence: the instances a STOW-RS answer says were not stored. */
const FAILED_SOP_SEQUENCE = '00081198';
const REFERENCED_SOP_INSTANCE_UID = '00081155';

/** What one sequence of an answer lists: its distinct ReferencedSOPInstanceUIDs, and how many items name none. */
interface Listed {
  readonly uids: ReadonlySet<string>;
  readonly unnamed: number;
}

type Item = Record<string, { Value?: unknown[] } | undefined>;

function listedInstances(body: unknown, tag: string): Listed {
  const items = (body as Record<string, { Value?: unknown[] } | undefined> | null)?.[tag]?.Value ?? [];
  const uids = new Set<string>();
  let unnamed = 0;
  for (const item of items) {
    const uid = (item as Item | null)?.[REFERENCED_SOP_INSTANCE_UID]?.Value?.[0];
    if (typeof uid === 'string' && uid !== '') uids.add(uid);
    else unnamed += 1;
  }
  return { uids, unnamed };
}

/** How many of what `listed` holds name no instance in `held`: another request's, or none at all. */
function listedElsewhere(listed: Listed, held: ReadonlySet<string>): number {
  return [...listed.uids].filter((uid) => !held.has(uid)).length + listed.unnamed;
}

/** Of a batch's files, how many an answer lists as stored and how many as failed; each file counts once at most. */
export interface AnsweredCounts {
  readonly stored: number;
  readonly failed: number;
}

/**
 * Counts a batch's files by a STOW-RS answer's body: a file is stored where its own SOP Instance UID (`batchUids`, read
 * from its File Meta Information, undefined where that could not be read) is in ReferencedSOPSequence, however often,
 * and failed where it is in FailedSOPSequence instead. Counting items instead let an answer that listed one instance
 * twice, or another request's, hide a file that was never stored. Items naming no instance of the batch are matched
 * by number only: for stored, against the files whose UID could not be read (nothing better tells them apart); for
 * failed, against any file not yet counted, since such a file was not stored either way.
 */
export function countAnswered(batchUids: ReadonlyArray<string | undefined>, body: unknown): AnsweredCounts {
  const held = new Set(batchUids.filter((uid): uid is string => uid !== undefined));
  const referenced = listedInstances(body, REFERENCED_SOP_SEQUENCE);
  const failedListed = listedInstances(body, FAILED_SOP_SEQUENCE);
  const unread = batchUids.length - batchUids.filter((uid) => uid !== undefined).length;
  const storedNamed = batchUids.filter((uid) => uid !== undefined && referenced.uids.has(uid)).length;
  const stored = storedNamed + Math.min(unread, listedElsewhere(referenced, held));
  const failedNamed = batchUids.filter((uid) => uid !== undefined && !referenced.uids.has(uid) && failedListed.uids.has(uid)).length;
  const failed = failedNamed + Math.min(batchUids.length - stored - failedNamed, listedElsewhere(failedListed, held));
  return { stored, failed };
}
