import { connect, type Socket } from 'node:net';
import { runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';
import { until } from '../support/until';

/** DIMSE_MAX_ASSOCIATIONS plus the connections the server lets negotiate beside them (dimse-server.ts). */
const MAX_ASSOCIATIONS = 1;
const NEGOTIATING = 16;

describe('connections that never associate', () => {
  let dimse: TestDimse;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    dimse = await startTestDimse({ DIMSE_MAX_ASSOCIATIONS: String(MAX_ASSOCIATIONS) });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await dimse.stop();
  });

  const open = async (): Promise<{ socket: Socket; closed: () => boolean }> => {
    const socket = connect(dimse.port, '127.0.0.1');
    sockets.push(socket);
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { socket, closed: () => closed };
  };

  test('beyond the associations allowed and a margin, a silent connection is closed at once; the others are kept', async () => {
    const held: Array<{ socket: Socket; closed: () => boolean }> = [];
    for (let i = 0; i < MAX_ASSOCIATIONS + NEGOTIATING; i++) held.push(await open());
    const extra = await open();
    // Not the 30 s a connection has to send its A-ASSOCIATE-RQ: the server does not take it at all.
    await until(() => Promise.resolve(extra.closed() ? true : undefined), 'the extra connection to be closed', { timeoutMs: 10_000 });
    expect(held.filter((h) => h.closed())).toEqual([]);
    for (const h of held) h.socket.destroy();
    await until(() => Promise.resolve(held.every((h) => h.closed()) ? true : undefined), 'the held connections to close');
    const echo = await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)]);
    expect(echo.code).toBe(0);
  });
});
