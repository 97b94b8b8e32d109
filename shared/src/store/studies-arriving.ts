import type { Archive } from './archive';

/**
 * The studies one STOW-RS request or one association has stored so far, held as arriving while it is open (neither
 * DICOMweb nor DIMSE has a "study complete"): every half quiet period their quiet period starts again, and once more
 * when the request or association ends, so that a part or instance slower to arrive than QUIET_PERIOD_MS (a large
 * instance, a slow link, a sender pausing) does not have the study analysed, and exported, with what came before it
 * only. A study the sender has gone on from (it stored another study's instance since) is held only while its own
 * instances keep coming: a quiet period after its last one it is let go, so that a router or a migration sending a
 * day's studies in one association or request does not hold each of them back until the end.
 */
export class StudiesArriving {
  /** Each study stored, with when it last stored an instance of it (ms). */
  private readonly studies = new Map<string, number>();
  /** The study stored last, and its place in what was sent (a STOW request's parts are stored side by side). */
  private latest: string | undefined;
  private latestPlace = -1;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(private readonly archive: Pick<Archive, 'noteStudyActivity'>, private readonly quietPeriodMs: number) {}

  /**
   * An instance of `studyInstanceUid` was stored; `place`, its place in what was sent, where stores can finish out of
   * order (by default, after everything before it).
   */
  stored(studyInstanceUid: string, place = this.latestPlace + 1): void {
    this.studies.set(studyInstanceUid, Date.now());
    if (place >= this.latestPlace) {
      this.latest = studyInstanceUid;
      this.latestPlace = place;
    }
    if (this.timer || this.ended || this.quietPeriodMs === 0) return;
    this.timer = setInterval(() => this.note(), Math.max(10, this.quietPeriodMs / 2));
    this.timer.unref();
  }

  /** The request or association has ended: the quiet period of each study still held runs from now. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.quietPeriodMs > 0) this.note();
  }

  private note(): void {
    const now = Date.now();
    for (const [study, lastStored] of this.studies) {
      if (study !== this.latest && now - lastStored >= this.quietPeriodMs) this.studies.delete(study);
      else this.archive.noteStudyActivity(study);
    }
  }
}
