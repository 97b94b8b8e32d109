import { requests, responses, Server as DimseServer } from 'dcmjs-dimse';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@mipseg/shared/log';
import { MipsegError } from '@mipseg/shared/errors';
import type { ResultUids } from '@mipseg/shared/queue';
import { syntheticPetInstance } from '../../../../test/pipeline/dicom-output/synthetic-source';
import { loadConfig } from '@mipseg/shared/config';
import { exportResult, exportSettings, type ExportDeps } from './export-result';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AcceptingScp, freePort, startTestDimse, type TestDimse } from '../../../../test/dimse/dimse-test-kit';
import type { StudySource } from './study-source';

const MIP_UID = '2.25.7100.1';
const SEG_UID = '2.25.7100.2';
const RESULT: ResultUids = {
  studyInstanceUid: '2.25.2000.1', mipSeriesInstanceUid: '2.25.7100.10', mipSopInstanceUid: MIP_UID,
  segSeriesInstanceUid: '2.25.7100.20', segSopInstanceUid: SEG_UID,
  lesionCount: 0, tumourAreaMm2: 0, modelName: 'test', modelVersion: '0',
};

/** Hands back the one instance each of the result's series holds, as the archive would. */
const source: StudySource = {
  readSeries: (_study, series) => Promise.resolve([syntheticPetInstance({
    sopInstanceUid: series === RESULT.mipSeriesInstanceUid ? MIP_UID : SEG_UID, seriesInstanceUid: series,
  })]),
  hasSeries: () => Promise.resolve(true),
};

interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
}

/** A stand-in PACS on a free port: records every request and answers with `reply`. */
class FakePacs {
  readonly requests: SeenRequest[] = [];
  reply: (res: ServerResponse) => void = (res) => res.writeHead(500).end();
  private readonly server: Server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
      this.reply(res);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/dicom-web`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function json(status: number, body: unknown): (res: ServerResponse) => void {
  return (res) => res.writeHead(status, { 'Content-Type': 'application/dicom+json' }).end(JSON.stringify(body));
}

function referenced(...uids: string[]): Record<string, unknown> {
  return { '00081199': { vr: 'SQ', Value: uids.map((uid) => ({ '00081155': { vr: 'UI', Value: [uid] } })) } };
}

function failed(uid: string, reason: number): Record<string, unknown> {
  return { '00081198': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [uid] }, '00081197': { vr: 'US', Value: [reason] } }] } };
}

describe('exportResult to a STOW-RS destination', () => {
  const pacs = new FakePacs();
  const elsewhere = new FakePacs();
  let pacsUrl: string;
  let elsewhereUrl: string;
  const deps: ExportDeps = { source, callingAeTitle: 'MIPSEG', log: createLogger('silent') };
  const send = (extra: Partial<ExportDeps> = {}) => exportResult(RESULT, `stow:${pacsUrl}`, 1, { ...deps, ...extra });

  beforeAll(async () => {
    pacsUrl = await pacs.start();
    elsewhereUrl = await elsewhere.start();
  });

  afterAll(async () => {
    await pacs.stop();
    await elsewhere.stop();
  });

  beforeEach(() => {
    pacs.requests.length = 0;
    elsewhere.requests.length = 0;
  });

  test('is sent when ReferencedSOPSequence lists both instances', async () => {
    pacs.reply = json(200, referenced(MIP_UID, SEG_UID));
    const status = await send();
    expect(status).toMatchObject({ state: 'sent', attempts: 1 });
    expect(pacs.requests).toHaveLength(1);
    expect(pacs.requests[0]).toMatchObject({ method: 'POST', url: '/dicom-web/studies' });
    expect(pacs.requests[0]?.bodyBytes).toBeGreaterThan(0);
  });

  test('posts to {base}/studies however many slashes end the configured base URL', async () => {
    pacs.reply = json(200, referenced(MIP_UID, SEG_UID));
    for (const ending of ['', '/', '//']) expect((await exportResult(RESULT, `stow:${pacsUrl}${ending}`, 1, deps)).state).toBe('sent');
    expect(pacs.requests.map((r) => `${r.method} ${r.url}`)).toEqual(Array(3).fill('POST /dicom-web/studies'));
  });

  test('is sent when a 202 stores an instance with a WarningReason, and the detail names it (PS3.18 10.5.3)', async () => {
    const body = referenced(MIP_UID, SEG_UID) as { '00081199': { Value: Array<Record<string, unknown>> } };
    (body['00081199'].Value[1] as Record<string, unknown>)['00081196'] = { vr: 'US', Value: [0xb000] };
    pacs.reply = json(202, body);
    const status = await send();
    expect(status).toMatchObject({ state: 'sent', detail: `2 instance(s) stored, 1 with a warning; ${SEG_UID} WarningReason 0xB000` });
  });

  test('does not follow a redirect: the export fails naming the Location, and nothing is sent there', async () => {
    elsewhere.reply = json(200, []);
    pacs.reply = (res) => res.writeHead(302, { Location: `${elsewhereUrl}/studies` }).end();
    const status = await send();
    expect(status.state).toBe('failed');
    expect(status.detail).toContain('302');
    expect(status.detail).toContain(`${elsewhereUrl}/studies`);
    expect(status.detail).toMatch(/configure the final URL/);
    expect(elsewhere.requests).toHaveLength(0);
  });

  test.each([
    ['an empty array (a QIDO answer)', json(200, [])],
    ['JSON null', json(200, null)],
    ['an empty body', (res: ServerResponse) => res.writeHead(200).end()],
    ['a DICOM XML body', (res: ServerResponse) => res.writeHead(200, { 'Content-Type': 'application/dicom+xml' })
      .end('<?xml version="1.0"?><NativeDicomModel/>')],
    ['a text body with 202', (res: ServerResponse) => res.writeHead(202, { 'Content-Type': 'text/plain' }).end('accepted')],
  ])('is not sent but retried when the answer is %s', async (_name, reply) => {
    pacs.reply = reply;
    const status = await send();
    expect(status.state).toBe('retrying');
    expect(status.detail).toMatch(new RegExp(`^the destination did not take the instances now: ${pacsUrl} answered HTTP 20[02] \\w+, but not with a DICOM JSON STOW-RS `
      + 'response \\(Content-Type .*\\), so no instance is confirmed stored$'));
  });

  test('is not sent but retried when ReferencedSOPSequence lists only one instance', async () => {
    pacs.reply = json(200, referenced(MIP_UID));
    const status = await send();
    expect(status.state).toBe('retrying');
    expect(status.detail).toBe(`the destination did not take the instances now: ${pacsUrl} answered HTTP 200 OK without confirming 1 of 2 `
      + `instance(s), missing from ReferencedSOPSequence: SEG ${SEG_UID} (MIP delivered)`);
  });

  test('is retried when an instance failed with 0xA700 (out of resources), saying which and that the other was delivered', async () => {
    pacs.reply = json(202, { ...referenced(MIP_UID), ...failed(SEG_UID, 0xa700) });
    const status = await send();
    expect(status.state).toBe('retrying');
    expect(status.detail).toBe(`out of storage: ${pacsUrl} answered HTTP 202 Accepted: SEG ${SEG_UID} FailureReason 0xA700, out of resources (MIP delivered)`);
  });

  test('is retried when a 409 lists only A7xx failures', async () => {
    pacs.reply = json(409, { ...failed(MIP_UID, 0xa7ff), ...failed(SEG_UID, 0xa700) });
    expect((await send()).state).toBe('retrying');
  });

  test('is retried when a 409 lists one instance as a duplicate of an earlier send and the other as out of resources', async () => {
    const both = { '00081198': { vr: 'SQ', Value: [[MIP_UID, 0x0111], [SEG_UID, 0xa700]].map(([uid, reason]) => ({
      '00081155': { vr: 'UI', Value: [uid] }, '00081197': { vr: 'US', Value: [reason] } })) } };
    pacs.reply = json(409, both);
    const status = await send();
    expect(status.state).toBe('retrying');
    expect(status.detail).toBe(`out of storage: ${pacsUrl} answered HTTP 409 Conflict: SEG ${SEG_UID} FailureReason 0xA700, out of resources (MIP delivered)`);
  });

  test.each([['0xC000', 0xc000], ['0xA900', 0xa900], ['0x0110', 0x0110], ['0x0122', 0x0122]])(
    'fails at once when an instance failed with %s', async (_name, reason) => {
    pacs.reply = json(202, { ...referenced(MIP_UID), ...failed(SEG_UID, reason) });
    const status = await send();
    expect(status.state).toBe('failed');
    expect(status.detail).toContain(`FailureReason 0x${reason.toString(16).toUpperCase()}`);
  });

  test('a partial success (202, the SEG refused) says which instance failed, why in words, and that the MIP was delivered', async () => {
    pacs.reply = json(202, { ...referenced(MIP_UID), ...failed(SEG_UID, 0xc000) });
    expect(await send()).toMatchObject({ state: 'failed', detail: 'the destination refused the result: '
      + `${pacsUrl} answered HTTP 202 Accepted: SEG ${SEG_UID} FailureReason 0xC000, cannot understand (MIP delivered)` });
    pacs.reply = json(409, { '00081198': { vr: 'SQ', Value: [MIP_UID, SEG_UID].map((uid) => ({
      '00081155': { vr: 'UI', Value: [uid] }, '00081197': { vr: 'US', Value: [0x0122] } })) } });
    expect((await send()).detail).toBe(`the destination refused the result: ${pacsUrl} answered HTTP 409 Conflict: `
      + `MIP ${MIP_UID} FailureReason 0x122, SOP class not supported; SEG ${SEG_UID} FailureReason 0x122, SOP class not supported`);
  });

  const bothDuplicates = { '00081198': { vr: 'SQ', Value: [MIP_UID, SEG_UID].map((uid) => ({
    '00081155': { vr: 'UI', Value: [uid] }, '00081197': { vr: 'US', Value: [0x0111] } })) } };
  // Attempt 1 is what the Retry button's send, or one re-sent after a crash, is numbered.
  test.each([[1, 202, { ...referenced(MIP_UID), ...failed(SEG_UID, 0x0111) }], [1, 409, bothDuplicates], [3, 409, bothDuplicates]])(
    'attempt %i answered %i with 0x0111 (duplicate) counts the instance as stored by an earlier send', async (attempt, code, body) => {
    pacs.reply = json(code, body);
    expect((await exportResult(RESULT, `stow:${pacsUrl}`, attempt, deps)).state).toBe('sent');
    pacs.reply = json(202, { ...referenced(MIP_UID), ...failed(SEG_UID, 0xc000) });
    expect((await exportResult(RESULT, `stow:${pacsUrl}`, attempt, deps)).state).toBe('failed'); // any other reason still fails
  });

  test('sends the configured bearer token, and none when none is configured', async () => {
    pacs.reply = json(200, referenced(MIP_UID, SEG_UID));
    expect((await send({ stowTokenFor: () => 'pacs-token.abc~123' })).state).toBe('sent');
    expect((await send()).state).toBe('sent');
    expect(pacs.requests.map((r) => r.headers.authorization)).toEqual(['Bearer pacs-token.abc~123', undefined]);
  });

  test("sends a destination its own token, and the shared one only to destinations without one", async () => {
    pacs.reply = json(200, referenced(MIP_UID, SEG_UID));
    elsewhere.reply = json(200, referenced(MIP_UID, SEG_UID));
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-tokens-'));
    writeFileSync(join(dir, 'tokens'), `${pacsUrl} pacs-own-token-456\n`);
    const tokens = exportSettings(loadConfig({ EXPORT_DESTINATIONS: `stow:${pacsUrl},stow:${elsewhereUrl}`,
      EXPORT_STOW_TOKENS_FILE: join(dir, 'tokens'), EXPORT_STOW_TOKEN: 'shared-token-123' }).pipeline);
    rmSync(dir, { recursive: true });
    expect((await send(tokens)).state).toBe('sent');
    expect((await exportResult(RESULT, `stow:${elsewhereUrl}`, 1, { ...deps, ...tokens })).state).toBe('sent');
    // An export queued under another spelling of the same URL (before EXPORT_DESTINATIONS was tidied) too.
    expect((await exportResult(RESULT, `stow:${pacsUrl}/`, 1, { ...deps, ...tokens })).state).toBe('sent');
    expect(pacs.requests.map((r) => r.headers.authorization)).toEqual(['Bearer pacs-own-token-456', 'Bearer pacs-own-token-456']);
    expect(elsewhere.requests.map((r) => r.headers.authorization)).toEqual(['Bearer shared-token-123']);
  });

  test.each([401, 403])('fails at once on %i, saying authentication failed', async (code) => {
    pacs.reply = (res) => res.writeHead(code).end();
    const status = await send({ stowTokenFor: () => 'wrong-token' });
    expect(status.state).toBe('failed');
    expect(status.detail).toMatch(new RegExp(`^the destination refused the result: ${pacsUrl} answered HTTP ${code} \\w+: authentication failed \\(the bearer token was not accepted\\)$`));
    expect(status.detail).not.toContain('wrong-token');
  });

  test('is retried on a 503 and a 408, naming the destination, the status and what the body says', async () => {
    pacs.reply = (res) => res.writeHead(503).end('maintenance');
    expect(await send()).toMatchObject({ state: 'retrying',
      detail: `the destination did not take the instances now: ${pacsUrl} answered HTTP 503 Service Unavailable: maintenance` });
    pacs.reply = (res) => res.writeHead(408).end('request timeout');
    expect((await send()).state).toBe('retrying');
    // A proxy's error page: its text, not its markup.
    pacs.reply = (res) => res.writeHead(502, { 'Content-Type': 'text/html' })
      .end('<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>');
    expect((await send()).detail).toBe(`the destination did not take the instances now: ${pacsUrl} answered HTTP 502 Bad Gateway: `
      + '502 Bad Gateway 502 Bad Gateway nginx');
  });

  test('reads no more than the start of an error page of any size', async () => {
    let sent = 0;
    let finished = false;
    const closed = new Promise<void>((resolve) => {
      pacs.reply = (res) => {
        res.once('close', () => resolve());
        res.once('finish', () => (finished = true));
        res.writeHead(502, { 'Content-Type': 'text/html' }).write('<html><body><h1>502 Bad Gateway</h1>');
        // 64 MiB, written as the client reads it.
        const more = (): void => {
          while (sent < 64 * 1024 * 1024) {
            sent += 65_536;
            if (!res.write(`<p>${'x'.repeat(65_529)}</p>`)) return void res.once('drain', more);
          }
          res.end('</body></html>');
        };
        more();
      };
    });
    const status = await send();
    expect(status.detail).toMatch(new RegExp(`answered HTTP 502 Bad Gateway: 502 Bad Gateway x{184}…$`));
    await closed;
    expect(finished).toBe(false);
  });

  test('is refused on a 400, naming the destination, the status and what the body says', async () => {
    pacs.reply = (res) => res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"Message":"Bad file format"}');
    expect(await send()).toMatchObject({ state: 'failed',
      detail: `the destination refused the result: ${pacsUrl} answered HTTP 400 Bad Request: {"Message":"Bad file format"}` });
  });

  test('is retried when the destination is down, saying once that it could not connect, to where, and why', async () => {
    const closed = await freePort();
    const down = await exportResult(RESULT, `stow:http://127.0.0.1:${closed}/dicom-web`, 1, deps);
    expect(down).toMatchObject({ state: 'retrying', detail: 'the destination did not take the instances now: '
      + `could not connect to http://127.0.0.1:${closed}/dicom-web: connect ECONNREFUSED 127.0.0.1:${closed}` });
  });

  test('is retried when the destination closes the connection before answering, saying so', async () => {
    pacs.reply = (res) => res.socket?.destroy();
    expect(await send()).toMatchObject({ state: 'retrying', detail: 'the destination did not take the instances now: '
      + `the connection to ${pacsUrl} failed before its STOW-RS response: other side closed (UND_ERR_SOCKET)` });
  });

  test.each([['no answer at all', false, 'no STOW-RS response from %s within 0.5 s'],
    ['an answer whose body never ends', true, 'the HTTP 200 OK response from %s did not complete within 0.5 s']])(
    'is retried, saying so, when the destination takes the request and gives %s', async (_, headersFirst, expected) => {
    pacs.reply = (res) => {
      if (headersFirst) res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).write('{');
    };
    const status = await send({ stowTimeoutMs: 500 });
    expect(status).toMatchObject({ state: 'retrying', detail: `the destination did not take the instances now: ${expected.replace('%s', pacsUrl)}` });
  });

  test('fails at once on a TLS certificate this host does not trust, saying so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-tls-'));
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
    expect(made.status).toBe(0);
    const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end());
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(tls.address() as AddressInfo).port}/dicom-web`;
      const status = await exportResult(RESULT, `stow:${url}`, 1, deps);
      expect(status.state).toBe('failed');
      expect(status.detail).toBe(`the destination refused the result: could not connect to ${url}: `
        + 'TLS certificate not trusted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate); add its CA with NODE_EXTRA_CA_CERTS');
    } finally {
      tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('exportResult to a DIMSE destination', () => {
  let dimse: TestDimse;
  const deps: ExportDeps = { source, callingAeTitle: 'MIPSEG', log: createLogger('silent') };
  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse.stop());

  test.each([1, 2])('attempt %i answered "duplicate SOP instance" (0x0111) for an instance counts it as stored by an earlier send',
    async (attempt) => {
    // A PACS that already holds the MIP (an earlier send whose answer was lost) and refuses an instance it holds so,
    // as some do (mipseg's own SCP answers 0xC410 for an instance held elsewhere, and stores a re-send).
    class HoldingScp extends AcceptingScp {
      override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
        const response = responses.CStoreResponse.fromRequest(request);
        response.setStatus(request.getAffectedSopInstanceUid() === MIP_UID ? 0x0111 : 0x0000);
        callback(response);
      }
    }
    const port = await freePort();
    const server = new DimseServer(HoldingScp);
    server.listen(port);
    try {
      // Attempt 1 too: the Retry button starts a failed export again from 1, and a send cut short by a crash keeps its number.
      const status = await exportResult(RESULT, `dimse:ANY@127.0.0.1:${port}`, attempt, deps);
      expect(status).toMatchObject({ state: 'sent', attempts: attempt, detail: '2 instance(s) stored (1 already there from an earlier send)' });
    } finally {
      server.close();
    }
  });

  test('a peer that stores with a warning (0xB000, attributes coerced) is sent, and the detail says which and why', async () => {
    // A PACS that stores what it is sent, coercing: every C-STORE answered 0xB000 with its reason.
    class CoercingScp extends AcceptingScp {
      override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
        const response = responses.CStoreResponse.fromRequest(request);
        response.setStatus(0xb000);
        response.setErrorComment('PatientName coerced to the PACS record');
        callback(response);
      }
    }
    const port = await freePort();
    const server = new DimseServer(CoercingScp);
    server.listen(port);
    try {
      const status = await exportResult(RESULT, `dimse:ANY@127.0.0.1:${port}`, 1, deps);
      expect(status).toMatchObject({ state: 'sent', detail: '2 instance(s) stored, 2 with a warning; MIP: C-STORE status 0xb000: ' +
        'PatientName coerced to the PACS record; SEG: C-STORE status 0xb000: PatientName coerced to the PACS record' });
    } finally {
      server.close();
    }
  });

  test.each([['a900', 0xa900, 'failed'], ['a700', 0xa700, 'retrying']])(
    'a peer that stores the MIP and answers 0x%s for the SEG: the detail says the MIP was delivered', async (_, segStatus, state) => {
    class SegRefusingScp extends AcceptingScp {
      override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
        const response = responses.CStoreResponse.fromRequest(request);
        response.setStatus(request.getAffectedSopInstanceUid() === SEG_UID ? segStatus : 0x0000);
        if (request.getAffectedSopInstanceUid() === SEG_UID) response.setErrorComment('not for this archive');
        callback(response);
      }
    }
    const port = await freePort();
    const server = new DimseServer(SegRefusingScp);
    server.listen(port);
    try {
      const status = await exportResult(RESULT, `dimse:ANY@127.0.0.1:${port}`, 1, deps);
      expect(status).toMatchObject({ state, detail: `SEG: C-STORE status 0x${segStatus.toString(16)}: not for this archive (MIP delivered)` });
    } finally {
      server.close();
    }
  });

  test('a peer that refuses the association names no C-STORE status it never sent', async () => {
    const status = await exportResult(RESULT, `dimse:NOT_MIPSEG@127.0.0.1:${dimse.port}`, 1, deps);
    expect(status.state).toBe('failed');
    expect(status.detail).toMatch(/^MIP: no C-STORE status: association rejected/);
  });
});

describe('an export whose result cannot be read', () => {
  const notFound = (): Promise<Buffer[]> => Promise.reject(new MipsegError('MIPSEG_NOT_FOUND', 'WADO-RS series 2.25.7100.10: HTTP 404'));
  const deps = (hasSeries: (study: string, series: string) => Promise<boolean>): ExportDeps =>
    ({ source: { readSeries: notFound, hasSeries }, callingAeTitle: 'MIPSEG', log: createLogger('silent') });

  test('is not taken for a deleted result while the archive still lists both series (a proxy\'s 404): it is thrown, to be retried', async () => {
    await expect(exportResult(RESULT, 'stow:http://127.0.0.1:9/dicomweb', 1, deps(() => Promise.resolve(true))))
      .rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
  });

  test('fails at once, saying so, when the archive confirms a result series is gone', async () => {
    const status = await exportResult(RESULT, 'stow:http://127.0.0.1:9/dicomweb', 1,
      deps((_study, series) => Promise.resolve(series !== RESULT.segSeriesInstanceUid)));
    expect(status).toMatchObject({ state: 'failed', attempts: 1 });
    expect(status.detail).toContain('was deleted');
  });
});
