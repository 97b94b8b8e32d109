/** Polls the jobs API until `predicate` holds for the study's jobs (or throws after `ms`). */
export interface ApiJob {
  id: string;
  state: string;
  stage: string | null;
  failureCode: string | null;
  failureReason: string | null;
  timingsMs: Record<string, number>;
  result: { mipSeriesInstanceUid: string; mipSopInstanceUid: string; segSeriesInstanceUid: string; segSopInstanceUid: string;
    lesionCount: number; studyInstanceUid: string } | null;
  exports: Array<{ destination: string; state: string; attempts: number; detail?: string }>;
}

export async function waitForJobs(apiRoot: string, study: string, predicate: (jobs: ApiJob[]) => boolean, ms = 120_000): Promise<ApiJob[]> {
  const deadline = Date.now() + ms;
  let last: ApiJob[] = [];
  while (Date.now() < deadline) {
    const res = await fetch(`${apiRoot}/api/studies/${study}/results`);
    if (res.ok) {
      last = ((await res.json()) as { jobs: ApiJob[] }).jobs;
      if (predicate(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for jobs of ${study}; last seen: ${JSON.stringify(last).slice(0, 2000)}`);
}
