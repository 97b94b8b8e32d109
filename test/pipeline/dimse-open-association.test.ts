import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../dimse/dimse-test-kit';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';
import { until } from '../support/until';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const AE_TITLE = 'MIPSEG';
const QUIET_MS = 1500;
const A_RELEASE_RQ = 0x05;

/**
 * A TCP relay between an SCU and the SCP that forwards every PDU at once except the SCU's A-RELEASE-RQ, held until
 * `release()`: an association that stays open, idle, after its last C-STORE (a PACS pausing mid-study).
 */
async function releaseHoldingRelay(scpPort: number): Promise<{ port: number; holding: () => boolean; release: () => void; close: () => Promise<void> }> {
  let held: { bytes: Buffer; to: Socket } | undefined;
  let released = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((scu) => {
    const scp = connect(scpPort, '127.0.0.1');
    for (const s of [scu, scp]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    scp.pipe(scu);
    scp.on('end', () => scu.end());
    let pending = Buffer.alloc(0);
    scu.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Whole PDUs only: type (1), reserved (1), length (4, big endian), then the body.
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt32BE(2)) {
        const pdu = pending.subarray(0, 6 + pending.readUInt32BE(2));
        pending = pending.subarray(pdu.length);
        if (pdu[0] === A_RELEASE_RQ && !released) held = { bytes: Buffer.from(pdu), to: scp };
        else scp.write(pdu);
      }
    });
    scu.on('end', () => scp.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    holding: () => held !== undefined,
    release: () => {
      released = true;
      if (held) held.to.write(held.bytes);
      held = undefined;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describeWithSharedData(GE)('a study arriving by C-STORE counts as arriving until its association ends or goes on to another study', () => {
  let dataDir: string;
  let mipseg: MipsegProcess | undefined;
  let relay: Awaited<ReturnType<typeof releaseHoldingRelay>> | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-open-association-'));
  });
  afterAll(async () => {
    relay?.release();
    await relay?.close();
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('no study check while the sender keeps the association open past the quiet period; one after it ends', async () => {
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: String(QUIET_MS), DIMSE_AE_TITLE: AE_TITLE });
    const root = `http://127.0.0.1:${mipseg.httpPort}`;
    relay = await releaseHoldingRelay(mipseg.dimsePort as number);
    const files = readdirSync(sharedData(GE).path).filter((f) => f.endsWith('.dcm')).sort().slice(0, 20)
      .map((f) => join(sharedData(GE).path, f));
    const sending = runTool('storescu', ['-aet', 'STORESCU', '-aec', AE_TITLE, '127.0.0.1', String(relay.port), ...files], 120_000);
    const r = relay;
    await until(() => Promise.resolve(r.holding() ? true : undefined), 'storescu to ask for the release', { timeoutMs: 60_000 });
    const studies = (await (await fetch(`${root}/dicomweb/studies`)).json()) as Array<Record<string, { Value?: unknown[] }>>;
    const study = String(studies[0]?.['0020000D']?.Value?.[0]);
    // Three quiet periods with the association open: before, the study was checked after the first.
    await new Promise((resolve) => setTimeout(resolve, 3 * QUIET_MS));
    const whileOpen = (await (await fetch(`${root}/api/studies/${study}/results`)).json()) as { jobs: ApiJob[]; waitingForInstances: boolean };
    expect({ jobs: whileOpen.jobs.length, waitingForInstances: whileOpen.waitingForInstances }).toEqual({ jobs: 0, waitingForInstances: true });

    r.release();
    expect((await sending).code).toBe(0);
    // 20 slices are too few for an analysis: the check's verdict is "not applicable", which shows that it ran.
    const jobs = await waitForJobs(root, study, (j) => j.length > 0);
    expect(jobs.map((j) => j.state)).toEqual(['not-applicable']);
  }, 180_000);
});

/** Copies of `files` as one other study: new Study and Series Instance UIDs for all, a new SOP Instance UID each. */
async function asAnotherStudy(files: readonly string[], dir: string): Promise<string[]> {
  const copies = files.map((f, k) => {
    const copy = join(dir, `other-${k}.dcm`);
    copyFileSync(f, copy);
    return copy;
  });
  const run = await runTool('dcmodify', ['-nb', '-gin', '-m', '(0020,000D)=2.25.77140001', '-m', '(0020,000E)=2.25.77140002', ...copies]);
  expect(run.code).toBe(0);
  return copies;
}

describeWithSharedData(GE)('an association that goes on to another study lets the earlier one go', () => {
  let dataDir: string;
  let filesDir: string;
  let mipseg: MipsegProcess | undefined;
  let relay: Awaited<ReturnType<typeof releaseHoldingRelay>> | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-open-association-'));
    filesDir = mkdtempSync(join(tmpdir(), 'mipseg-open-association-files-'));
  });
  afterAll(async () => {
    relay?.release();
    await relay?.close();
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(filesDir, { recursive: true, force: true });
  });

  test('the first study is checked a quiet period after its last instance; the one still being sent waits for the end', async () => {
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: String(QUIET_MS), DIMSE_AE_TITLE: AE_TITLE });
    const root = `http://127.0.0.1:${mipseg.httpPort}`;
    relay = await releaseHoldingRelay(mipseg.dimsePort as number);
    const ge = readdirSync(sharedData(GE).path).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(sharedData(GE).path, f));
    const first = ge.slice(0, 20);
    const second = await asAnotherStudy(ge.slice(20, 25), filesDir);
    const sending = runTool('storescu', ['-aet', 'STORESCU', '-aec', AE_TITLE, '127.0.0.1', String(relay.port), ...first, ...second], 120_000);
    const r = relay;
    await until(() => Promise.resolve(r.holding() ? true : undefined), 'storescu to ask for the release', { timeoutMs: 60_000 });
    const studies = (await (await fetch(`${root}/dicomweb/studies`)).json()) as Array<Record<string, { Value?: unknown[] }>>;
    const uids = studies.map((s) => String(s['0020000D']?.Value?.[0]));
    const firstStudy = uids.find((u) => u !== '2.25.77140001') as string;
    expect(uids.sort()).toEqual([firstStudy, '2.25.77140001'].sort());

    // With the association still open: before, neither study was checked until it ended.
    const firstJobs = await waitForJobs(root, firstStudy, (j) => j.length > 0, 10 * QUIET_MS);
    expect(firstJobs.map((j) => j.state)).toEqual(['not-applicable']);
    await new Promise((resolve) => setTimeout(resolve, 2 * QUIET_MS));
    const held = (await (await fetch(`${root}/api/studies/2.25.77140001/results`)).json()) as { jobs: ApiJob[]; waitingForInstances: boolean };
    expect({ jobs: held.jobs.length, waitingForInstances: held.waitingForInstances }).toEqual({ jobs: 0, waitingForInstances: true });

    r.release();
    expect((await sending).code).toBe(0);
    const secondJobs = await waitForJobs(root, '2.25.77140001', (j) => j.length > 0);
    expect(secondJobs.map((j) => j.state)).toEqual(['not-applicable']);
  }, 180_000);
});
