import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Response } from 'express';
import { createLogger } from '@mipseg/shared/log';
import { EVENT_STREAM_HEADERS, MAX_UNSENT_BYTES, writeToStream } from './study-events';

const EVENT = `event: studies\ndata: ${'x'.repeat(64 * 1024)}\n\n`;
/** Past any loopback socket's buffers on both sides several times over: a writer that never gives up stops here. */
const GIVE_UP_AFTER_BYTES = 64 * 1024 * 1024;

interface Written { readonly bytes: number; readonly open: boolean; readonly destroyed: boolean }

/** Writes events to `res`, one a turn of the event loop (as the stream's timers do), until the writer ends it. */
async function writeUntilEnded(res: ServerResponse, log: ReturnType<typeof createLogger>): Promise<Written> {
  let bytes = 0;
  let open = true;
  while (open && bytes < GIVE_UP_AFTER_BYTES) {
    open = writeToStream(res as unknown as Response, EVENT, log);
    bytes += EVENT.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { bytes, open, destroyed: res.destroyed };
}

describe('writing to a worklist event stream', () => {
  let server: Server;
  /** What the server wrote to the one client's stream, once the writer has ended it. */
  let written: Promise<Written>;
  let served = (_result: Promise<Written>): void => undefined;
  const logged: Array<{ level: number; msg: string; unsentBytes?: number }> = [];
  const log = createLogger('info', { write: (line: string) => logged.push(JSON.parse(line) as (typeof logged)[number]) });

  beforeAll(async () => {
    written = new Promise((resolve) => { served = resolve; });
    server = createServer((_req, res) => {
      res.writeHead(200, EVENT_STREAM_HEADERS).flushHeaders();
      served(writeUntilEnded(res, log));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });

  test('ends, and logs, the stream of a client that stops reading once its unsent output passes the limit', async () => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    // The client reads the headers, then nothing more: its socket's buffers fill, then the server's.
    socket.once('data', () => socket.pause());
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined); // the reset the server's end may cause
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const result = await written;
    expect({ open: result.open, destroyed: result.destroyed }).toEqual({ open: false, destroyed: true });
    // Read again, the client gets what its buffers held, then the end of the connection.
    socket.resume();
    await closed;
    const warning = logged.find((line) => line.msg === 'worklist event stream ended: its client does not read what is sent');
    expect(warning?.unsentBytes).toBeGreaterThan(MAX_UNSENT_BYTES);
  });
});

describe('writing one event larger than the unsent limit', () => {
  /** A bulk import changing many studies in one poll: far past what a loopback socket takes at once. */
  const BIG_EVENT = `event: studies\ndata: ${'x'.repeat(8 * MAX_UNSENT_BYTES)}\n\n`;
  let server: Server;
  let kept: boolean | undefined;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, EVENT_STREAM_HEADERS).flushHeaders();
      kept = writeToStream(res as unknown as Response, BIG_EVENT, createLogger('silent'));
      if (kept) res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });

  test('keeps the stream of a client that reads, and the client gets the whole event', async () => {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const body = await res.text().catch(() => '');
    expect(kept).toBe(true);
    expect(body.length).toBe(BIG_EVENT.length);
  });
});
