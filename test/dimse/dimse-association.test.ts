import { connect, type Socket } from 'node:net';
import { Client, requests } from 'dcmjs-dimse';
import { associateRequest, RELEASE_REQUEST, runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

const echo = (dimse: TestDimse, ...args: string[]) =>
  runTool('echoscu', ['-v', ...args, '127.0.0.1', String(dimse.port)]);

/** An association (one C-ECHO) that the peer keeps open for `lingerMs` after its response. */
function holdAssociation(port: number, lingerMs: number): { accepted: Promise<void>; released: Promise<boolean> } {
  const client = new Client();
  client.addRequest(new requests.CEchoRequest());
  let released = false;
  const accepted = new Promise<void>((resolve) => client.on('associationAccepted', () => resolve()));
  const done = new Promise<boolean>((resolve) => {
    client.on('associationReleased', () => (released = true));
    client.on('closed', () => resolve(released));
  });
  client.send('127.0.0.1', port, 'HOLDER', SCP_AE_TITLE, { associationLingerTimeout: lingerMs });
  return { accepted, released: done };
}

/**
 * A raw SCU that associates, releases, and then keeps its end of the connection open, as a lingering SCU does:
 * allowHalfOpen, so that the SCP closing its side does not close ours. `released` resolves on A-RELEASE-RP,
 * `hungUp` when the SCP has closed its side.
 */
function lingerAfterRelease(port: number): { socket: Socket; released: Promise<void>; hungUp: Promise<void> } {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.write(associateRequest(16_384)));
  socket.on('error', () => undefined);
  let pending = Buffer.alloc(0);
  const released = new Promise<void>((resolve, reject) => socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 6 && pending.length >= 6 + pending.readUInt32BE(2)) {
      const type = pending[0];
      pending = pending.subarray(6 + pending.readUInt32BE(2));
      if (type === 0x02) socket.write(RELEASE_REQUEST); // A-ASSOCIATE-AC
      else if (type === 0x06) resolve(); // A-RELEASE-RP
      else reject(new Error(`unexpected PDU type ${type ?? '?'}`));
    }
  }));
  const hungUp = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  return { socket, released, hungUp };
}

/** A raw SCU that associates and then stays idle; `pdus` collects the type of every PDU the SCP sends until it closes. */
function idleAssociation(port: number): { accepted: Promise<void>; closed: Promise<number[]> } {
  const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(associateRequest(16_384)));
  socket.on('error', () => undefined);
  const pdus: number[] = [];
  let pending = Buffer.alloc(0);
  const accepted = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 6 && pending.length >= 6 + pending.readUInt32BE(2)) {
      pdus.push(pending[0] as number);
      if (pending[0] === 0x02) resolve(); // A-ASSOCIATE-AC
      pending = pending.subarray(6 + pending.readUInt32BE(2));
    }
  }));
  const closed = new Promise<number[]>((resolve) => socket.once('close', () => resolve(pdus)));
  return { accepted, closed };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('DIMSE association negotiation', () => {
  let open: TestDimse;
  let restricted: TestDimse;

  beforeAll(async () => {
    open = await startTestDimse();
    restricted = await startTestDimse({ DIMSE_ALLOWED_AE_TITLES: 'PACS1,PACS2,MAIN PACS' });
  });
  afterAll(async () => {
    await open?.stop();
    await restricted?.stop();
  });

  test('answers C-ECHO from echoscu', async () => {
    const run = await echo(open, '-aet', 'ECHOSCU', '-aec', SCP_AE_TITLE);
    expect(run.output).toContain('Received Echo Response (Success)');
    expect(run.code).toBe(0);
  });

  test('rejects an association whose called AE title is not ours', async () => {
    const run = await echo(open, '-aec', 'SOMEONE_ELSE');
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/Called AE Title Not Recognized/i);
  });

  test('rejects a calling AE title that is not on the allow-list', async () => {
    const run = await echo(restricted, '-aet', 'INTRUDER', '-aec', SCP_AE_TITLE);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/Calling AE Title Not Recognized/i);
  });

  test('accepts a calling AE title on the allow-list', async () => {
    const run = await echo(restricted, '-aet', 'PACS2', '-aec', SCP_AE_TITLE);
    expect(run.code).toBe(0);
  });

  test('takes an allowed AE title with a space in it as one title', async () => {
    expect((await echo(restricted, '-aet', 'MAIN PACS', '-aec', SCP_AE_TITLE)).code).toBe(0);
    const part = await echo(restricted, '-aet', 'MAIN', '-aec', SCP_AE_TITLE);
    expect(part.code).not.toBe(0);
    expect(part.output).toMatch(/Calling AE Title Not Recognized/i);
  });

  test('picks a transfer syntax it supports out of a long proposal', async () => {
    // dcmtk's debugging option: 3 Verification contexts, each with 38 transfer syntaxes, most unknown to us.
    const run = await echo(open, '-aec', SCP_AE_TITLE, '--propose-ts', '38', '--propose-pc', '3');
    expect(run.code).toBe(0);
  });
});

describe('DIMSE association limits and shutdown', () => {
  test('refuses associations over DIMSE_MAX_ASSOCIATIONS with a transient rejection', async () => {
    const dimse = await startTestDimse({ DIMSE_MAX_ASSOCIATIONS: '1' });
    try {
      const held = holdAssociation(dimse.port, 3000);
      await held.accepted;
      const refused = await echo(dimse, '-aec', SCP_AE_TITLE);
      expect(refused.code).not.toBe(0);
      expect(refused.output).toMatch(/Local Limit Exceeded/i);
      expect(await held.released).toBe(true);
      expect((await echo(dimse, '-aec', SCP_AE_TITLE)).code).toBe(0);
    } finally {
      await dimse.stop();
    }
  });

  test('hangs up on an SCU that lingers after A-RELEASE-RP, whose association no longer holds a slot', async () => {
    const dimse = await startTestDimse({ DIMSE_MAX_ASSOCIATIONS: '1' });
    const lingering = lingerAfterRelease(dimse.port);
    try {
      await within(lingering.released, 5000, 'A-RELEASE-RP');
      // Its connection is still open on its side, yet the only slot is free for the next association.
      expect((await echo(dimse, '-aec', SCP_AE_TITLE)).code).toBe(0);
      await within(lingering.hungUp, 1000, 'close of the SCP\'s side of the connection');
    } finally {
      lingering.socket.destroy();
      await dimse.stop();
    }
  });

  test('close() sends A-ABORT on an association still open at its timeout, not a bare TCP close', async () => {
    const dimse = await startTestDimse();
    try {
      const idle = idleAssociation(dimse.port);
      await idle.accepted;
      await dimse.server.close(300);
      expect(await within(idle.closed, 5000, 'close of the connection')).toEqual([0x02, 0x07]); // A-ASSOCIATE-AC, A-ABORT
    } finally {
      await dimse.stop();
    }
  });

  test('close() stops accepting but lets an open association finish', async () => {
    const dimse = await startTestDimse();
    try {
      const held = holdAssociation(dimse.port, 1000);
      await held.accepted;
      const closing = dimse.server.close(10_000);
      const late = await echo(dimse, '-aec', SCP_AE_TITLE);
      expect(late.code).not.toBe(0);
      expect(await held.released).toBe(true);
      await closing;
    } finally {
      await dimse.stop();
    }
  });
});
