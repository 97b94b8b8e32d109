import { Client, requests } from 'dcmjs-dimse';
import { runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

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

describe('DIMSE association negotiation', () => {
  let open: TestDimse;
  let restricted: TestDimse;

  beforeAll(async () => {
    open = await startTestDimse();
    restricted = await startTestDimse({ DIMSE_ALLOWED_AE_TITLES: 'PACS1,PACS2' });
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
