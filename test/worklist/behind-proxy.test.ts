import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { postStow } from '../support/stow';
import { startWorklistServer, type WorklistServer } from './worklist-server';

const TOKEN = 'proxy-token-0123456789abcdef';
/** What a TLS-terminating reverse proxy on this host adds to each request it passes on. */
const FORWARDED = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'pacs.example.org' };

async function login(server: WorklistServer): Promise<string> {
  const res = await fetch(`${server.root}/api/session`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, ...FORWARDED } });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie') ?? '';
}

async function retrieveUrl(server: WorklistServer, sop: string): Promise<string> {
  const part = Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0] }));
  const reply = await postStow(`${server.root}/dicomweb/studies`, [part], { headers: { Authorization: `Bearer ${TOKEN}`, ...FORWARDED } });
  expect(reply.status).toBe(200);
  const url: unknown = reply.body?.['00081190']?.Value?.[0];
  expect(typeof url).toBe('string');
  return url as string;
}

describe('behind a TLS reverse proxy (TRUST_PROXY=loopback)', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer({ AUTH_TOKENS: TOKEN, TRUST_PROXY: 'loopback' });
  });
  afterAll(() => server.stop());

  test('the session cookie is Secure when the proxy says the client came by HTTPS', async () => {
    expect(await login(server)).toMatch(/;\s*Secure/i);
  });

  test('RetrieveURLs name the scheme and host the client used', async () => {
    expect(await retrieveUrl(server, '2.25.7201')).toBe('https://pacs.example.org/dicomweb/studies/2.25.700');
  });
});

describe('without TRUST_PROXY (the default)', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer({ AUTH_TOKENS: TOKEN });
  });
  afterAll(() => server.stop());

  test('X-Forwarded-Proto from a client is ignored: the cookie over plain HTTP is not Secure', async () => {
    expect(await login(server)).not.toMatch(/Secure/i);
  });

  test('X-Forwarded-Host from a client does not reach the RetrieveURLs', async () => {
    expect(await retrieveUrl(server, '2.25.7202')).toBe(`${server.root}/dicomweb/studies/2.25.700`);
  });
});
