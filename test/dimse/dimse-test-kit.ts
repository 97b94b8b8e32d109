import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config, type ConfigKey } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { Archive } from '@mipseg/shared/store';
import { startDimseServer, type DimseServer } from '@mipseg/dimse';
import { encodeFileMetaInformation, readFileMetaInformation } from '@mipseg/shared/dicom';
import { constants, Scp, type association } from 'dcmjs-dimse';

type DimseAssociation = association.Association;

export const SCP_AE_TITLE = 'MIPSEG';

export interface TestDimse {
  readonly config: Config;
  readonly archive: Archive;
  readonly server: DimseServer;
  readonly dataDir: string;
  readonly port: number;
  /** Files left in the archive's temp folder (partial or refused uploads must not linger). */
  tempFiles(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A DIMSE SCP on a free port over a fresh temporary data directory, logging to `log`; `stop` removes everything. */
export async function startTestDimse(env: Partial<Record<ConfigKey, string>> = {}, log: Logger = pino({ level: 'silent' })): Promise<TestDimse> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-dimse-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0', DIMSE_AE_TITLE: SCP_AE_TITLE, ...env });
  const archive = await Archive.open(dataDir, log);
  const server = await startDimseServer({ config, archive, log });
  return {
    config,
    archive,
    server,
    dataDir,
    port: server.port,
    tempFiles: () => readdir(join(dataDir, 'tmp')),
    stop: async () => {
      await server.close(2000);
      archive.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ToolRun {
  readonly code: number;
  /** stdout and stderr together: dcmtk logs to stderr. */
  readonly output: string;
}

/** Runs a dcmtk tool; a non-zero exit is a result, not an exception. */
export function runTool(tool: string, args: readonly string[], timeoutMs = 120_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${tool} not found: install dcmtk (apt-get install -y dcmtk)`));
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** The data set of a PS3.10 file: every byte after its File Meta Information. */
export function dataSetOf(p10: Buffer): Buffer {
  return p10.subarray(readFileMetaInformation(p10).dataSetOffset);
}

/** The stored file of an instance, as the archive keeps it. */
export async function storedFile(dimse: TestDimse, sopInstanceUid: string): Promise<Buffer> {
  const instance = dimse.archive.index.findInstance(sopInstanceUid);
  if (!instance) throw new Error(`instance ${sopInstanceUid} not stored`);
  return readFile(join(dimse.dataDir, instance.storageKey));
}

/** A TCP port that was free a moment ago (for peers such as storescp that cannot report theirs). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function implicitElement(group: number, element: number, value: string, pad: number): Buffer {
  const bytes = Buffer.from(value.length % 2 === 0 ? value : value + String.fromCharCode(pad), 'latin1');
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(bytes.length, 4);
  return Buffer.concat([header, bytes]);
}

export interface SyntheticInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly modality: string;
  /** Length of a zero-filled Pixel Data element, to make the instance as large as a test needs; default 2 (0: none). */
  readonly pixelDataBytes?: number;
}

/** A minimal instance as a PS3.10 file (two bytes of pixel data unless told otherwise), for tests that must run without ../shared. */
export function syntheticInstance(instance: SyntheticInstance): Buffer {
  const uid = (g: number, e: number, v: string) => implicitElement(g, e, v, 0);
  const text = (g: number, e: number, v: string) => implicitElement(g, e, v, 0x20);
  const dataSet = Buffer.concat([
    uid(0x0008, 0x0016, instance.sopClassUid),
    uid(0x0008, 0x0018, instance.sopInstanceUid),
    text(0x0008, 0x0060, instance.modality),
    text(0x0010, 0x0020, 'MIPSEG-TEST'),
    uid(0x0020, 0x000d, '2.25.1001'),
    uid(0x0020, 0x000e, '2.25.1002'),
    (instance.pixelDataBytes ?? 2) > 0 ? implicitElement(0x7fe0, 0x0010, '\0'.repeat(instance.pixelDataBytes ?? 2), 0) : Buffer.alloc(0),
  ]);
  const meta = encodeFileMetaInformation({
    mediaStorageSopClassUid: instance.sopClassUid,
    mediaStorageSopInstanceUid: instance.sopInstanceUid,
    transferSyntaxUid: '1.2.840.10008.1.2',
  });
  return Buffer.concat([meta, dataSet]);
}

const pduItem = (type: number, body: Buffer): Buffer => {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
};
const uidItem = (type: number, uid: string): Buffer => pduItem(type, Buffer.from(uid, 'latin1'));
const aeTitleField = (title: string): Buffer => Buffer.from(title.padEnd(16, ' '), 'latin1');

/** A presentation context an A-ASSOCIATE-RQ proposes (PS3.8 9.3.2.2). */
export interface ProposedContext {
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
}

/**
 * An A-ASSOCIATE-RQ to SCP_AE_TITLE proposing `contexts`, announcing `maxLength` as its Maximum Length Received
 * (PS3.8 9.3.2, D.1): for tests that speak PDUs themselves to do what no well-behaved SCU does.
 */
export function associateRequestProposing(contexts: readonly ProposedContext[], maxLength = 16_384, callingAeTitle = 'RAWSCU'): Buffer {
  const items = contexts.map((c) => pduItem(0x20, Buffer.concat([Buffer.from([c.id, 0, 0, 0]), uidItem(0x30, c.abstractSyntax),
    ...c.transferSyntaxes.map((ts) => uidItem(0x40, ts))])));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(maxLength);
  const userInfo = pduItem(0x50, Buffer.concat([pduItem(0x51, length), uidItem(0x52, '1.2.826.0.1.3680043.8.498.1')]));
  const body = Buffer.concat([Buffer.from([0, 1, 0, 0]), aeTitleField(SCP_AE_TITLE), aeTitleField(callingAeTitle), Buffer.alloc(32),
    uidItem(0x10, '1.2.840.10008.3.1.1.1'), ...items, userInfo]);
  const header = Buffer.alloc(6);
  header[0] = 0x01;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** An A-ASSOCIATE-RQ proposing Verification only (see associateRequestProposing). */
export function associateRequest(maxLength: number, callingAeTitle = 'RAWSCU'): Buffer {
  return associateRequestProposing([{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
    maxLength, callingAeTitle);
}

/** A-RELEASE-RQ (PS3.8 9.3.6): type 5, length 4, four reserved bytes. */
export const RELEASE_REQUEST = Buffer.from([0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]);

/**
 * A stand-in Storage SCP (dcmjs-dimse) for SCU tests: accepts every proposed context with its first transfer syntax
 * and answers a release; a test's subclass says how it answers each C-STORE.
 */
export class AcceptingScp extends Scp {
  override associationRequested(association: DimseAssociation): void {
    for (const { id } of association.getPresentationContexts()) {
      const context = association.getPresentationContext(id);
      context.setResult(constants.PresentationContextResult.Accept, context.getTransferSyntaxUids()[0]);
    }
    this.sendAssociationAccept();
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }
}
