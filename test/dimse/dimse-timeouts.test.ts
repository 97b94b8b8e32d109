import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@mipseg/shared/config';
import { Archive } from '@mipseg/shared/store';
import { startDimseServer, type DimseServer } from '@mipseg/dimse';
import { associateRequest, RELEASE_REQUEST, startTestDimse, SCP_AE_TITLE, type TestDimse } from './dimse-test-kit';

/** A connection that records what the SCP sends it and when it is closed. */
async function openConnection(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<number> }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const opened = Date.now();
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** The PDUs in `bytes`, by type. */
function pduTypes(bytes: Buffer): number[] {
  const types: number[] = [];
  for (let offset = 0; offset + 6 <= bytes.length; offset += 6 + bytes.readUInt32BE(offset + 2)) types.push(bytes[offset] ?? 0);
  return types;
}

const A_ASSOCIATE_AC = 0x02;
const A_ABORT = 0x07;

describe('DIMSE SCP and a peer that connects and sends nothing (PS3.8 9.2, ARTIM in Sta2)', () => {
  let dimse: TestDimse;
  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(async () => {
    await dimse.stop();
  });

  test('after 30 s the connection is closed with no PDU (AA-2), not answered with an A-ABORT', async () => {
    const peer = await openConnection(dimse.port);
    const closedAfterMs = await peer.closed;
    expect(peer.received()).toEqual(Buffer.alloc(0));
    expect(closedAfterMs).toBeGreaterThanOrEqual(29_000);
  }, 45_000);
});

describe('DIMSE SCP and an association that goes idle', () => {
  let dataDir: string;
  let archive: Archive;
  let server: DimseServer;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-dimse-timeouts-'));
    const log = pino({ level: 'silent' });
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0', DIMSE_AE_TITLE: SCP_AE_TITLE });
    archive = await Archive.open(dataDir, log);
    const deps = { config, archive, log, timeouts: { associateRequestMs: 30_000, idleMs: 1500 } };
    server = await startDimseServer(deps);
  });
  afterAll(async () => {
    await server.close(2000);
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('is aborted past its idle limit with an A-ABORT of reason 0 (not an invalid PDU parameter, 6), and closed', async () => {
    const peer = await openConnection(server.port);
    peer.socket.write(associateRequest(16_384));
    const closedAfterMs = await peer.closed;
    const bytes = peer.received();
    expect(pduTypes(bytes)).toEqual([A_ASSOCIATE_AC, A_ABORT]);
    const abort = bytes.subarray(bytes.length - 10);
    // Source 0 (the service user: the SCP gave up on it), reason 0.
    expect([abort[8], abort[9]]).toEqual([0, 0]);
    expect(closedAfterMs).toBeGreaterThanOrEqual(1400);
    expect(closedAfterMs).toBeLessThan(10_000);
  });

  test('is not aborted while the peer keeps sending whole PDUs within the limit', async () => {
    const peer = await openConnection(server.port);
    peer.socket.write(associateRequest(16_384));
    // A C-ECHO-RQ's command in ten P-DATA-TFs, 400 ms apart: 4 s in all, past the 1.5 s limit, but never idle that long.
    const command = cEchoCommand();
    const step = Math.ceil(command.length / 10);
    for (let at = 0; at < command.length; at += step) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      peer.socket.write(pDataTf(command.subarray(at, at + step), at + step >= command.length));
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    peer.socket.write(RELEASE_REQUEST);
    await peer.closed;
    // Answered (P-DATA-TF) and released (A-RELEASE-RP), not aborted.
    expect(pduTypes(peer.received())).toEqual([A_ASSOCIATE_AC, 0x04, 0x06]);
  });

  test('is aborted past its idle limit when the peer trickles bytes that never complete a PDU', async () => {
    const peer = await openConnection(server.port);
    peer.socket.write(associateRequest(16_384));
    // An A-RELEASE-RQ a byte at a time, 400 ms apart: bytes keep coming, but no PDU in 1.5 s.
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < RELEASE_REQUEST.length - 1 && !peer.socket.destroyed) peer.socket.write(RELEASE_REQUEST.subarray(sent, ++sent));
    }, 400);
    const closedAfterMs = await peer.closed;
    clearInterval(trickle);
    expect(pduTypes(peer.received())).toEqual([A_ASSOCIATE_AC, A_ABORT]);
    expect(closedAfterMs).toBeLessThan(3000);
  });
});

/** A C-ECHO-RQ command set (PS3.7 9.3.5), implicit VR little endian, with its group length. */
function cEchoCommand(): Buffer {
  const element = (tag: number, value: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(0, 0);
    head.writeUInt16LE(tag, 2);
    head.writeUInt32LE(value.length, 4);
    return Buffer.concat([head, value]);
  };
  const us = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
  const body = Buffer.concat([element(0x0002, Buffer.from('1.2.840.10008.1.1\0')), element(0x0100, us(0x0030)),
    element(0x0110, us(1)), element(0x0800, us(0x0101))]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([element(0x0000, length), body]);
}

/** One P-DATA-TF holding one command PDV of presentation context 1 (PS3.8 9.3.5, E.2). */
function pDataTf(fragment: Buffer, last: boolean): Buffer {
  const pdv = Buffer.concat([Buffer.alloc(4), Buffer.from([1, last ? 0x03 : 0x01]), fragment]);
  pdv.writeUInt32BE(pdv.length - 4, 0);
  const header = Buffer.from([0x04, 0, 0, 0, 0, 0]);
  header.writeUInt32BE(pdv.length, 2);
  return Buffer.concat([header, pdv]);
}
