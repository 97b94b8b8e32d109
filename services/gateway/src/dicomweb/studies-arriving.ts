import type { Archive } from '@mipseg/shared/store';

/**
 * The studies one STOW-RS request has stored so far, held as arriving until the request ends, as the DIMSE SCP holds
 * an association's (PS3.18 has no "study complete" either): every half quiet period while the request is open their
 * quiet period starts again, and once more at its end. Else one part slower than QUIET_PERIOD_MS to arrive (a large
 * instance, a slow link) would have the study analysed, and exported, with the parts before it only.
 */
export class StudiesArriving {
  private readonly studies = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(private readonly archive: Archive, private readonly quietPeriodMs: number) {}

  /** An instance of `studyInstanceUid` was stored by the request. */
  stored(studyInstanceUid: string): void {
    this.studies.add(studyInstanceUid);
    if (this.timer || this.ended || this.quietPeriodMs === 0) return;
    this.timer = setInterval(() => this.note(), Math.max(10, this.quietPeriodMs / 2));
    this.timer.unref();
  }

  /** The request has ended (answered, refused or cut): the quiet period of each study it stored runs from now. */
  end(): void {
    this.ended = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.quietPeriodMs > 0) this.note();
  }

  private note(): void {
    for (const study of this.studies) this.archive.noteStudyActivity(study);
  }
}
