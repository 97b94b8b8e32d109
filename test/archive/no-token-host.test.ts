import { request } from 'node:http';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

/** fetch cannot set Host: a raw request, answering the status and the JSON error code if any. */
function send(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, ...(code ? { code } : {}) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('without AUTH_TOKENS (the loopback default)', () => {
  let server: TestArchiveServer;
  let port: number;
  beforeAll(async () => {
    server = await startTestArchive({ ALLOWED_HOSTS: 'mipseg.lan' });
    port = server.gateway.port;
  });
  afterAll(() => server.stop());

  test('refuses a Host that is not loopback (DNS rebinding) with 403 MIPSEG_HOST_REFUSED', async () => {
    expect(await send(port, '/dicomweb/studies', { Host: 'rebind.attacker.example' })).toEqual({ status: 403, code: 'MIPSEG_HOST_REFUSED' });
    expect(await send(port, '/dicomweb/studies', { Host: `rebind.attacker.example:${port}` })).toMatchObject({ status: 403 });
    expect(await send(port, '/dicomweb/studies', { Host: '127.0.0.1.attacker.example' })).toMatchObject({ status: 403 });
    expect(await send(port, '/', { Host: 'rebind.attacker.example' })).toMatchObject({ status: 403 });
  });

  test.each(['localhost', '127.0.0.1', '[::1]', 'LOCALHOST', 'mipseg.lan'])('answers Host %s, with or without a port', async (host) => {
    expect((await send(port, '/dicomweb/studies', { Host: host })).status).toBe(200);
    expect((await send(port, '/dicomweb/studies', { Host: `${host}:${port}` })).status).toBe(200);
  });

  test('leaves the health endpoints open to any Host, for orchestrators', async () => {
    expect((await send(port, '/healthz', { Host: 'rebind.attacker.example' })).status).toBe(200);
  });

  test('refuses a request that changes data when a browser says it comes from another origin', async () => {
    const res = await send(port, '/dicomweb/studies', { Host: `127.0.0.1:${port}`, Origin: 'http://evil.example', 'Content-Type': 'text/plain' }, 'POST');
    expect(res).toEqual({ status: 403, code: 'MIPSEG_CROSS_ORIGIN' });
    const own = await send(port, '/dicomweb/studies', { Host: `127.0.0.1:${port}`, Origin: `http://127.0.0.1:${port}`, 'Content-Type': 'text/plain' }, 'POST');
    expect(own).toMatchObject({ status: 415 });
    const noBrowser = await send(port, '/dicomweb/studies', { Host: `127.0.0.1:${port}`, 'Content-Type': 'text/plain' }, 'POST');
    expect(noBrowser).toMatchObject({ status: 415 });
  });
});
