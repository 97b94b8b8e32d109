import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMipsegError } from '../errors';
import { isLoopback, loadConfig, splitAllowedAeEntry, stowTokenFor } from './config';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMipsegError(err) ? err.code : 'not a MipsegError';
  }
  return undefined;
}

describe('loadConfig', () => {
  test('uses the documented defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
    expect(config.dimse.port).toBe(11112);
    expect(config.dimse.aeTitle).toBe('MIPSEG');
    expect(config.httpInactivityTimeoutMs).toBe(300_000);
    expect(config.minFreeDiskBytes).toBe(1024 ** 3);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.dimse)).toBe(true);
  });

  test('refuses a TZ that names no time zone, which node would take as UTC without a word', () => {
    expect(codeOf(() => loadConfig({ TZ: 'Europe/Copenhagn' }))).toBe('MIPSEG_CONFIG_INVALID');
    // Intl takes these; node does not, and runs in UTC.
    for (const tz of ['europe/copenhagen', 'Europe/Copenhagen ', ' UTC', 'utc']) expect([tz, codeOf(() => loadConfig({ TZ: tz }))]).toEqual([tz, 'MIPSEG_CONFIG_INVALID']);
    expect(codeOf(() => loadConfig({ TZ: 'US/Eastern' }))).toBeUndefined(); // an alias, spelled as node takes it
    expect(codeOf(() => loadConfig({ TZ: 'Europe/Copenhagen' }))).toBeUndefined();
    expect(codeOf(() => loadConfig({ TZ: 'UTC' }))).toBeUndefined();
  });

  test('refuses to bind a non-loopback address without authentication', () => {
    expect(codeOf(() => loadConfig({ HOST: '0.0.0.0' }))).toBe('MIPSEG_INSECURE_BIND');
  });

  test('a name that only starts with 127. is not loopback', () => {
    expect(codeOf(() => loadConfig({ HOST: '127.0.0.1.nip.io' }))).toBe('MIPSEG_INSECURE_BIND');
    expect(loadConfig({ HOST: '127.0.0.2' }).host).toBe('127.0.0.2');
  });

  test('takes loopback in any case and spelling: LOCALHOST, 0:0:0:0:0:0:0:1, ::ffff:127.0.0.1', () => {
    for (const host of ['LOCALHOST', 'LocalHost', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.0.0.2', '0::1']) {
      expect([host, codeOf(() => loadConfig({ HOST: host }))]).toEqual([host, undefined]);
      expect(isLoopback(host)).toBe(true);
    }
    for (const host of ['::ffff:10.0.0.5', '::2', 'localhost.example']) expect([host, isLoopback(host)]).toEqual([host, false]);
  });

  test('refuses MAX_INSTANCE_BYTES larger than MAX_REQUEST_BYTES with DIMSE off: no instance could be received that large', () => {
    const off = { DIMSE_ENABLED: 'false' };
    expect(codeOf(() => loadConfig({ ...off, MAX_REQUEST_BYTES: '2097152' }))).toBe('MIPSEG_CONFIG_INVALID');
    expect(codeOf(() => loadConfig({ ...off, MAX_REQUEST_BYTES: '2097152', MAX_INSTANCE_BYTES: '2097153' }))).toBe('MIPSEG_CONFIG_INVALID');
    expect(loadConfig({ ...off, MAX_REQUEST_BYTES: '2097152', MAX_INSTANCE_BYTES: '2097152' }).maxInstanceBytes).toBe(2097152);
  });

  test('takes MAX_INSTANCE_BYTES larger than MAX_REQUEST_BYTES with DIMSE on: the larger limit is C-STORE\'s', () => {
    expect(loadConfig({ MAX_REQUEST_BYTES: '536870912' }).maxInstanceBytes).toBe(1024 ** 3);
  });

  test('leaves MAX_INSTANCE_BYTES against MAX_REQUEST_BYTES to commands that listen: the worker loads from an .env that lowered only the request cap', () => {
    expect(loadConfig({ MAX_REQUEST_BYTES: '2097152' }, { listens: false }).maxRequestBytes).toBe(2097152);
  });

  test('reads ALLOWED_HOSTS as lower-case names and addresses; refuses ports and junk', () => {
    expect(loadConfig({}).allowedHosts).toEqual([]);
    expect(loadConfig({ ALLOWED_HOSTS: 'MIPSEG.lan, 10.0.0.5 [fd00::1] fd00:0::2' }).allowedHosts).toEqual(['mipseg.lan', '10.0.0.5', 'fd00::1', 'fd00::2']);
    for (const bad of ['mipseg.lan:8080', 'http://mipseg.lan', 'a_b.lan', '*']) {
      expect(codeOf(() => loadConfig({ ALLOWED_HOSTS: bad }))).toBe('MIPSEG_CONFIG_INVALID');
    }
  });

  test('binds a non-loopback address when tokens are configured or --insecure is given', () => {
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_TOKENS: 'a-long-enough-token-1234', DIMSE_ALLOWED_AE_TITLES: 'PACS' }).authTokens).toHaveLength(1);
    expect(loadConfig({ HOST: '0.0.0.0' }, { insecure: true }).insecure).toBe(true);
  });

  test('refuses a DIMSE SCP open to every calling AE title on a non-loopback address, even with tokens for HTTP', () => {
    const reachable = { HOST: '0.0.0.0', AUTH_TOKENS: 'a-long-enough-token-1234', DIMSE_ALLOWED_AE_TITLES: '' };
    expect(codeOf(() => loadConfig(reachable))).toBe('MIPSEG_INSECURE_DIMSE_BIND');
    expect(codeOf(() => loadConfig({ ...reachable, DIMSE_ALLOWED_AE_TITLES: 'PACS' }))).toBeUndefined();
    expect(codeOf(() => loadConfig({ ...reachable, DIMSE_ENABLED: 'false' }))).toBeUndefined();
    expect(codeOf(() => loadConfig(reachable, { insecure: true }))).toBeUndefined();
    expect(codeOf(() => loadConfig({ ...reachable, HOST: '127.0.0.1' }))).toBeUndefined();
  });

  test('reads AE@address entries, an IP address after the last "@"', () => {
    const config = loadConfig({ DIMSE_ALLOWED_AE_TITLES: 'MAIN PACS@10.0.0.5, CT@FD00::1' });
    expect(config.dimse.allowedCallingAeTitles).toEqual(['MAIN PACS@10.0.0.5', 'CT@FD00::1']);
    expect(splitAllowedAeEntry('MAIN PACS@10.0.0.5')).toEqual({ aeTitle: 'MAIN PACS', address: '10.0.0.5' });
    expect(splitAllowedAeEntry('CT@FD00::1')).toEqual({ aeTitle: 'CT', address: 'fd00::1' });
    expect(splitAllowedAeEntry('A@B')).toEqual({ aeTitle: 'A@B' });
    // One spelling of each address, and the title without the padding before the "@".
    expect(splitAllowedAeEntry('MAIN PACS @10.0.0.5')).toEqual({ aeTitle: 'MAIN PACS', address: '10.0.0.5' });
    expect(splitAllowedAeEntry('PACS@::ffff:10.0.0.5')).toEqual({ aeTitle: 'PACS', address: '10.0.0.5' });
    expect(splitAllowedAeEntry('CT@FD00:0:0::1')).toEqual({ aeTitle: 'CT', address: 'fd00::1' });
    expect(splitAllowedAeEntry('CT@FE80:0::1%eth0')).toEqual({ aeTitle: 'CT', address: 'fe80::1%eth0' });
    expect(codeOf(() => loadConfig({ DIMSE_ALLOWED_AE_TITLES: 'A-TITLE-FAR-TOO-LONG@10.0.0.5' }))).toBe('MIPSEG_CONFIG_INVALID');
  });

  test('refuses an entry whose part after "@" is no IP address (a host name), saying only IP addresses are taken there', () => {
    for (const entry of ['PACS@pacs.local', 'A@B', 'PACS@', 'PACS@10.0.0.5:104']) {
      let message = '';
      try {
        loadConfig({ DIMSE_ALLOWED_AE_TITLES: `CT, ${entry}` });
      } catch (err) {
        message = isMipsegError(err) && err.code === 'MIPSEG_CONFIG_INVALID' ? err.message : String(err);
      }
      expect([entry, message]).toEqual([entry, expect.stringMatching(/DIMSE_ALLOWED_AE_TITLES entry ".*": only an IP address may follow "@"/)]);
    }
  });

  test('refuses an entry with no AE title before "@", saying the title is missing', () => {
    for (const entry of ['@10.0.0.5', ' @10.0.0.5', '@', '@pacs.local']) {
      let message = '';
      try {
        loadConfig({ DIMSE_ALLOWED_AE_TITLES: `CT, ${entry}` });
      } catch (err) {
        message = isMipsegError(err) && err.code === 'MIPSEG_CONFIG_INVALID' ? err.message : String(err);
      }
      expect([entry, message]).toEqual([entry, expect.stringMatching(/DIMSE_ALLOWED_AE_TITLES entry ".*": no AE title before "@"/)]);
    }
  });

  test('takes a title that itself holds "@" only tied to an address, split at the last "@"', () => {
    expect(splitAllowedAeEntry('A@B@10.0.0.5')).toEqual({ aeTitle: 'A@B', address: '10.0.0.5' });
    expect(codeOf(() => loadConfig({ DIMSE_ALLOWED_AE_TITLES: 'A@B@10.0.0.5' }))).toBeUndefined();
  });

  test('leaves the bind check to commands that listen: the worker and segment-mip load beside HOST=0.0.0.0', () => {
    expect(codeOf(() => loadConfig({ HOST: '0.0.0.0' }))).toBe('MIPSEG_INSECURE_BIND');
    expect(loadConfig({ HOST: '0.0.0.0' }, { listens: false }).host).toBe('0.0.0.0');
  });

  test('PORT and DIMSE_PORT the same fails the start naming both, unless DIMSE is off or the command does not listen', () => {
    expect(() => loadConfig({ PORT: '11112', DIMSE_PORT: '11112' })).toThrow('PORT and DIMSE_PORT are both 11112');
    expect(loadConfig({ PORT: '11112', DIMSE_PORT: '11112', DIMSE_ENABLED: 'false' }).port).toBe(11112);
    expect(loadConfig({ PORT: '11112', DIMSE_PORT: '11112' }, { listens: false }).port).toBe(11112);
    expect(loadConfig({ PORT: '0', DIMSE_PORT: '0' }).port).toBe(0); // each picks a free port
  });

  test('reads tokens from a file too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-'));
    try {
      writeFileSync(join(dir, 'tokens'), 'first-token-0123456789\nsecond-token-0123456789\n');
      const config = loadConfig({ AUTH_TOKENS_FILE: join(dir, 'tokens') });
      expect(config.authTokens).toEqual(['first-token-0123456789', 'second-token-0123456789']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([['an empty', ''], ['a whitespace-only', ' \n\t\n']])('%s token file fails the start naming AUTH_TOKENS_FILE, not turning authentication off', (_, content) => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-'));
    try {
      const file = join(dir, 'tokens');
      writeFileSync(file, content);
      loadConfig({ AUTH_TOKENS_FILE: file });
      throw new Error('accepted');
    } catch (err) {
      expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('AUTH_TOKENS_FILE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a too-short token from the file is reported against AUTH_TOKENS_FILE, without showing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-'));
    try {
      writeFileSync(join(dir, 'tokens'), 'first-token-0123456789\nshort\n');
      loadConfig({ AUTH_TOKENS: 'inline-token-0123456789', AUTH_TOKENS_FILE: join(dir, 'tokens') });
      throw new Error('accepted');
    } catch (err) {
      expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain(`AUTH_TOKENS_FILE=${join(dir, 'tokens')} line 2: every token needs at least 16 characters`);
      expect((err as Error).message).not.toContain('short');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a token file\'s blank lines and # comments are skipped, whatever the comment says', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-'));
    try {
      writeFileSync(join(dir, 'tokens'), '# prod token, rotated 2026-11\nfirst-token-0123456789\n\n#rotated-2025-01-by-admin\n  # old: gone-token-0123456789\n');
      expect(loadConfig({ AUTH_TOKENS_FILE: join(dir, 'tokens') }).authTokens).toEqual(['first-token-0123456789']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([['a password with $ and !', 'Pa$$w0rd!Pa$$w0rd!'], ['a letter outside ASCII', 'schlüssel-0123456789']])(
    'a token no client can send (%s) fails the start naming where it is, without showing it', (_, token) => {
      const dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-'));
      try {
        writeFileSync(join(dir, 'tokens'), `good-token-0123456789\n${token}\n`);
        for (const [env, where] of [[{ AUTH_TOKENS: token }, 'AUTH_TOKENS:'], [{ AUTH_TOKENS_FILE: join(dir, 'tokens') }, `AUTH_TOKENS_FILE=${join(dir, 'tokens')} line 2:`]] as const) {
          let message = '';
          try {
            loadConfig(env);
          } catch (err) {
            expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
            message = (err as Error).message;
          }
          expect(message).toContain(`${where} every token must be one RFC 6750 bearer token`);
          expect(message).not.toContain(token);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

  test('a token file that cannot be read fails the start naming AUTH_TOKENS_FILE, the path and the reason', () => {
    const missing = join(tmpdir(), 'mipseg-no-such-tokens-file');
    try {
      loadConfig({ AUTH_TOKENS_FILE: missing });
      throw new Error('accepted');
    } catch (err) {
      expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain(`AUTH_TOKENS_FILE=${missing} cannot be read (ENOENT)`);
    }
  });

  test('refuses a LOG_LEVEL pino does not know, naming the variable and the levels it takes', () => {
    expect(loadConfig({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    try {
      loadConfig({ LOG_LEVEL: 'verbose' });
      throw new Error('accepted');
    } catch (err) {
      expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('LOG_LEVEL=verbose (fatal, error, warn, info, debug, trace, silent)');
    }
  });

  test('reads the STOW-RS export token from the environment or a file; none by default', () => {
    expect(loadConfig({}).pipeline.exportStowToken).toBe('');
    expect(loadConfig({ EXPORT_STOW_TOKEN: 'eyJhbGciOi.J9-_~+/x==' }).pipeline.exportStowToken).toBe('eyJhbGciOi.J9-_~+/x==');
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-'));
    try {
      writeFileSync(join(dir, 'stow-token'), 'pacs-token-from-file\n');
      expect(loadConfig({ EXPORT_STOW_TOKEN_FILE: join(dir, 'stow-token') }).pipeline.exportStowToken).toBe('pacs-token-from-file');
      writeFileSync(join(dir, 'empty'), '\n');
      expect(codeOf(() => loadConfig({ EXPORT_STOW_TOKEN_FILE: join(dir, 'empty') }))).toBe('MIPSEG_CONFIG_INVALID');
      expect(codeOf(() => loadConfig({ EXPORT_STOW_TOKEN_FILE: join(dir, 'missing') }))).toBe('MIPSEG_CONFIG_INVALID');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [{ EXPORT_STOW_TOKEN: 'two words' }],
    [{ EXPORT_STOW_TOKEN: 'token\r\nX-Injected: 1' }],
    [{ EXPORT_STOW_TOKEN: 'secret-token', EXPORT_STOW_TOKEN_FILE: '/etc/hostname' }],
  ])('refuses an unusable STOW-RS export token without showing it: %j', (env) => {
    try {
      loadConfig(env);
      throw new Error('accepted');
    } catch (err) {
      expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).not.toContain(env.EXPORT_STOW_TOKEN);
    }
  });

  describe('EXPORT_STOW_TOKENS_FILE', () => {
    const A = 'https://pacs-a.example/dicom-web';
    const B = 'https://pacs-b.example:8443/dicomweb';
    const destinations = `stow:${A}, dimse:PACS@10.0.0.5:104, stow:${B}`;
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-cfg-')); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const withFile = (content: string, env: Record<string, string> = {}) => {
      writeFileSync(join(dir, 'tokens'), content);
      return () => loadConfig({ EXPORT_DESTINATIONS: destinations, EXPORT_STOW_TOKENS_FILE: join(dir, 'tokens'), ...env });
    };
    const messageOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };

    test('gives each listed stow: destination its own token, keyed by its EXPORT_DESTINATIONS entry; none by default', () => {
      expect(stowTokenFor(loadConfig({ EXPORT_DESTINATIONS: destinations }).pipeline, `stow:${A}`)).toBe('');
      // Comments, blank lines, a stow: prefix, a trailing slash and an upper-case host are all the same destination.
      const config = withFile(`# PACS A\n\nstow:https://PACS-A.example/dicom-web/  token-of-a.1\r\n${B}\ttoken-of-b~2==\n`,
        { EXPORT_STOW_TOKEN: 'shared-token-3' })();
      expect(stowTokenFor(config.pipeline, `stow:${A}`)).toBe('token-of-a.1');
      expect(stowTokenFor(config.pipeline, `stow:${B}`)).toBe('token-of-b~2==');
      expect(Object.isFrozen(config.pipeline.exportStowTokens)).toBe(true);
    });

    test('a destination written another way gets its own token; the shared one goes only to configured destinations', () => {
      const config = withFile(`${A} token-of-a.1\n`, { EXPORT_STOW_TOKEN: 'shared-token-3' })();
      // An export queued before EXPORT_DESTINATIONS was respelled keeps the old spelling.
      expect(stowTokenFor(config.pipeline, 'stow:HTTPS://pacs-a.example/dicom-web/')).toBe('token-of-a.1');
      expect(stowTokenFor(config.pipeline, `stow:${B}`)).toBe('shared-token-3');
      // One queued for a destination since removed, which may have had its own token: not the shared one.
      expect(stowTokenFor(config.pipeline, 'stow:https://old-pacs.example/dicom-web')).toBe('');
      // Without a tokens file the shared token goes to every stow: destination, as before the file existed.
      const shared = loadConfig({ EXPORT_DESTINATIONS: destinations, EXPORT_STOW_TOKEN: 'shared-token-3' }).pipeline;
      expect(stowTokenFor(shared, 'stow:https://old-pacs.example/dicom-web')).toBe('shared-token-3');
    });

    test('refuses a URL that is not a stow: destination, naming the line and never a token', () => {
      const message = messageOf(withFile(`${A} token-of-a.1\nhttps://pacs-c.example/dicom-web token-of-c.3\n`));
      expect(message).toContain('line 2: https://pacs-c.example/dicom-web is not a stow: entry of EXPORT_DESTINATIONS');
      expect(message).not.toContain('token-of');
    });

    test.each([
      ['a line without a token', `${A}\n`, 'line 1: expected "<stow URL> <token>"'],
      ['a token with a space in it', `${A} token of a\n`, 'line 1: expected "<stow URL> <token>"'],
      ['a token that is not an RFC 6750 bearer token', `${A} token-of-a;1\n`, 'line 1: the token must be one RFC 6750 bearer token'],
      ['a destination listed twice', `${A} token-of-a.1\n${A}/ token-of-a.2\n`, `line 2: ${A}/ is listed twice`],
      ['a URL with user:password', 'https://admin:S3cretPw@pacs-a.example/dicom-web token-of-a.1\n', 'line 1: the first field is not an http(s) URL without user:password'],
      ['a DIMSE destination', 'dimse:PACS@10.0.0.5:104 token-of-a.1\n', 'line 1: the first field is not an http(s) URL'],
      ['a line written token first', `token-of-a.1 ${A}\n`, 'line 1: the first field is not an http(s) URL'],
      ['a file with no token in it', '# none yet\n\n', 'holds no token'],
    ])('refuses %s, saying which line', (_, content, expected) => {
      const message = messageOf(withFile(content));
      expect(message).toContain(expected);
      expect(message).not.toMatch(/token-of-a[.;]|S3cretPw/);
    });

    test('a refused EXPORT_DESTINATIONS is the one error said: the file\'s URLs are not checked against its default', () => {
      const message = messageOf(withFile(`${A} token-of-a.1\n`, { EXPORT_DESTINATIONS: `stow:${A}, stow:ftp://pacs-c.example` }));
      expect(message).toContain('EXPORT_DESTINATIONS entry "stow:ftp://pacs-c.example"');
      expect(message).not.toContain('EXPORT_STOW_TOKENS_FILE');
      // The rest of the file is still checked, so that both mistakes are said at once.
      const both = messageOf(withFile(`${A}\n`, { EXPORT_DESTINATIONS: 'stow:ftp://pacs-c.example' }));
      expect(both).toContain('invalid configuration: 2 settings');
      expect(both).toContain('line 1: expected "<stow URL> <token>"');
    });

    test('a file that cannot be read fails the start, naming it', () => {
      expect(messageOf(() => loadConfig({ EXPORT_STOW_TOKENS_FILE: join(dir, 'missing') }))).toContain('cannot be read (ENOENT)');
    });
  });

  test('refuses GATEWAY_URL with user:password (fetch refuses it, showing the password), and keeps REDIS_URL\'s', () => {
    expect(codeOf(() => loadConfig({ GATEWAY_URL: 'http://svc:Pa55word@gw:8080/dicomweb' }))).toBe('MIPSEG_CONFIG_INVALID');
    expect(loadConfig({ REDIS_URL: 'redis://:Pa55word@redis:6379' }).pipeline.redisUrl).toBe('redis://:Pa55word@redis:6379');
  });

  test('refuses GATEWAY_URL with a query or fragment, after which a worker\'s paths would go; strips every trailing "/"', () => {
    for (const url of ['http://gw:8080/dicomweb?x=1', 'http://gw:8080/dicomweb#top', 'http://gw:8080/dicomweb?', 'http://gw:8080/dicomweb/#']) {
      expect([url, codeOf(() => loadConfig({ GATEWAY_URL: url }))]).toEqual([url, 'MIPSEG_CONFIG_INVALID']);
    }
    expect(loadConfig({ GATEWAY_URL: 'http://gw:8080/dicomweb///' }).pipeline.gatewayUrl).toBe('http://gw:8080/dicomweb');
    expect(loadConfig({ GATEWAY_URL: 'http://gw:8080//' }).pipeline.gatewayUrl).toBe('http://gw:8080');
  });

  test('refuses GATEWAY_URL with a query or fragment without showing them (a token may be there)', () => {
    for (const url of ['http://gw:8080/dicomweb?token=S3cretPw', 'http://gw:8080/dicomweb#S3cretPw', 'http://gw:8080/dicomweb?a=1#S3cretPw']) {
      let message = '';
      try {
        loadConfig({ GATEWAY_URL: url });
      } catch (err) {
        message = isMipsegError(err, 'MIPSEG_CONFIG_INVALID') ? (err as Error).message : String(err);
      }
      expect([url, message]).toEqual([url, expect.stringContaining('GATEWAY_URL=http://gw:8080/dicomweb ')]);
      expect(message).not.toContain('S3cretPw');
    }
  });

  test('never shows a URL\'s query or fragment in a message, whatever else is wrong with the URL', () => {
    for (const env of [{ GATEWAY_URL: 'gateway:8080/dicomweb?token=S3cretPw' }, { GATEWAY_URL: 'ftp://gw/?token=S3cretPw' },
      { GATEWAY_URL: 'http://u:p@gw/?token=S3cretPw' }, { REDIS_URL: 'http://redis:6379/?password=S3cretPw' },
      { EXPORT_DESTINATIONS: 'stow:ftp://pacs.example/dicom-web?token=S3cretPw' }]) {
      let message = 'accepted';
      try {
        loadConfig(env);
      } catch (err) {
        expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
        message = (err as Error).message;
      }
      expect(message).not.toMatch(/accepted|S3cretPw/);
    }
  });

  test('refuses a stow: destination with a query or fragment, which the request path would be appended to, never showing it', () => {
    for (const destination of ['stow:https://pacs.example/dicom-web?access_token=S3cretPw', 'stow:https://pacs.example/dicom-web#S3cretPw',
      'stow:https://pacs.example/dicom-web?']) {
      let message = 'accepted';
      try {
        loadConfig({ EXPORT_DESTINATIONS: destination });
      } catch (err) {
        expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
        message = (err as Error).message;
      }
      expect([destination, message]).toEqual([destination, expect.stringContaining('without user:password, query or fragment')]);
      expect(message).not.toContain('S3cretPw');
    }
  });

  test('refuses a stow: destination with user:password, and never shows a password in a message', () => {
    for (const env of [{ EXPORT_DESTINATIONS: 'stow:http://admin:S3cretPw@pacs.example/dicom-web' }, { REDIS_URL: 'redis://:S3cretPw@redis:6379O' },
      // A base64 password holds "/", and an unescaped one may hold "@": neither ends the userinfo.
      { REDIS_URL: 'redis://:ab/S3cretPw+ef@redis:6379O' }, { GATEWAY_URL: 'http://svc:ab/S3cretPw@gw:8080/dicomweb' },
      { EXPORT_DESTINATIONS: 'stow:https://u:se/S3cretPw@pacs.example/dicom-web' }, { REDIS_URL: 'redis://:p@S3cretPw@redis:6379O' },
      // "?" and "#" written unescaped: the URL does not parse, and the password must not show either.
      { REDIS_URL: 'redis://:ab#S3cretPw@redis:6379' }, { GATEWAY_URL: 'http://svc:x#S3cretPw@gw:8080/dicomweb' },
      { EXPORT_DESTINATIONS: 'stow:https://u:p?S3cretPw@pacs.example/dicom-web' }]) {
      try {
        loadConfig(env);
        throw new Error('accepted');
      } catch (err) {
        expect(isMipsegError(err, 'MIPSEG_CONFIG_INVALID')).toBe(true);
        expect((err as Error).message).not.toContain('S3cretPw');
        expect((err as Error).message).toContain('***@');
      }
    }
  });

  test('accepts export destinations, URLs and AE title lists of every allowed form', () => {
    const config = loadConfig({
      EXPORT_DESTINATIONS: 'stow:https://pacs.example:8443/dicom-web, dimse:ORTHANC@10.0.0.5:4242',
      GATEWAY_URL: 'http://gateway:8080/dicomweb/', REDIS_URL: 'redis://:secret@redis:6379/2', DIMSE_ALLOWED_AE_TITLES: 'PACS, CT_SCANNER-1',
    });
    expect(config.pipeline.exportDestinations).toEqual(['stow:https://pacs.example:8443/dicom-web', 'dimse:ORTHANC@10.0.0.5:4242']);
    expect(config.pipeline.gatewayUrl).toBe('http://gateway:8080/dicomweb');
    expect(config.pipeline.redisUrl).toBe('redis://:secret@redis:6379/2');
    expect(config.dimse.allowedCallingAeTitles).toEqual(['PACS', 'CT_SCANNER-1']);
  });

  test('keeps an AE title with a space whole: only commas separate AE titles and export destinations', () => {
    const config = loadConfig({
      DIMSE_ALLOWED_AE_TITLES: 'MAIN PACS,CT 1 , PET_CT',
      EXPORT_DESTINATIONS: 'dimse:MAIN PACS@10.0.0.5:104,\n stow:https://pacs.example/dicom-web',
    });
    expect(config.dimse.allowedCallingAeTitles).toEqual(['MAIN PACS', 'CT 1', 'PET_CT']);
    expect(config.pipeline.exportDestinations).toEqual(['dimse:MAIN PACS@10.0.0.5:104', 'stow:https://pacs.example/dicom-web']);
  });

  test('lists whose entries cannot hold a space still take spaces and line breaks as separators, as documented', () => {
    const config = loadConfig({ AUTH_TOKENS: 'first-token-0123456789 second-token-012345678,third-token-0123456789',
      ALLOWED_HOSTS: 'mipseg.example 10.0.0.7' });
    expect(config.authTokens).toEqual(['first-token-0123456789', 'second-token-012345678', 'third-token-0123456789']);
    expect(config.allowedHosts).toEqual(['mipseg.example', '10.0.0.7']);
  });

  test('trusts no proxy by default; TRUST_PROXY takes true/false, a hop count or addresses, subnets and names', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8 fd00::1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::1']);
  });

  test('takes a TRUST_PROXY hop count with spaces around it, as it takes " true"', () => {
    expect(loadConfig({ TRUST_PROXY: ' true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: ' 2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '3 ' }).trustProxy).toBe(3);
  });

  test.each([
    [{ TRUST_PROXY: 'nginx' }],
    [{ TRUST_PROXY: '10.0.0.0/33' }],
    [{ TRUST_PROXY: '11' }],
    [{ HTTP_INACTIVITY_TIMEOUT_MS: '0' }],
    [{ MIN_FREE_DISK_BYTES: '-1' }],
    [{ MIN_FREE_DISK_BYTES: '1GB' }],
    [{ PORT: 'eighty' }],
    [{ PORT: '70000' }],
    [{ PORT: '0x50' }],
    [{ PORT: '1e3' }],
    [{ PORT: ' 80' }],
    [{ HOST: '127.0.0.1:80' }],
    [{ HOST: 'http://example.org' }],
    [{ QUEUE_PREFIX: 'a b:{c}' }],
    [{ WORKER_SHUTDOWN_MS: '500' }],
    [{ DIMSE_AE_TITLE: 'A_TITLE_LONGER_THAN_16' }],
    [{ DIMSE_ENABLED: 'maybe' }],
    [{ AUTH_TOKENS: 'short' }],
    [{ QIDO_MAX_RESULTS: '0' }],
    [{ EXPORT_DESTINATIONS: 'dimse:PACS@pacs.example:0' }],
    [{ EXPORT_DESTINATIONS: 'dimse:PACS@pacs.example:99999' }],
    [{ EXPORT_DESTINATIONS: 'dimse:A_TITLE_LONGER_THAN_16@pacs:104' }],
    [{ EXPORT_DESTINATIONS: 'stow:http://' }],
    [{ EXPORT_DESTINATIONS: 'stow:ftp://pacs.example/dicomweb' }],
    [{ GATEWAY_URL: 'gateway:8080/dicomweb' }],
    [{ REDIS_URL: 'localhost:6379' }],
    [{ REDIS_URL: 'http://localhost:6379' }],
    [{ DIMSE_ALLOWED_AE_TITLES: 'PACS,A_TITLE_LONGER_THAN_16' }],
    [{ DIMSE_ALLOWED_AE_TITLES: 'PACS\\MODALITY' }],
    [{ DIMSE_ALLOWED_AE_TITLES: 'PACS1 PACS2 PACS3 PACS4' }], // one title now, and longer than 16
    [{ EXPORT_DESTINATIONS: 'stow:https://pacs-a.example/dicom-web stow:https://pacs-b.example/dicom-web' }],
  ])('rejects an invalid value: %j', (env) => {
    expect(codeOf(() => loadConfig(env))).toBe('MIPSEG_CONFIG_INVALID');
  });
});

describe('README\'s Configuration table', () => {
  const readme = readFileSync(resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  /** The table row that documents `key` (its first cell names it, alone or beside another). */
  const rowOf = (key: string): string => readme.split('\n').find((line) => line.startsWith(`| \`${key}\``)) ?? '';

  test.each([
    ['QUIET_PERIOD_MS', 0, 86_400_000],
    ['WORKER_CONCURRENCY', 1, 64],
    ['JOB_ATTEMPTS', 1, 100],
    ['JOB_LOCK_MS', 1000, 3_600_000],
    ['INFERENCE_THREADS', 1, 256],
    ['DIMSE_MAX_ASSOCIATIONS', 1, 1000],
  ])('states %s\'s range, %d to %d, which config holds it to', (key, min, max) => {
    expect(rowOf(key)).toContain(`${min} to ${max}`);
    expect(codeOf(() => loadConfig({ [key]: String(min) }))).toBeUndefined();
    expect(codeOf(() => loadConfig({ [key]: String(max) }))).toBeUndefined();
    expect(codeOf(() => loadConfig({ [key]: String(max + 1) }))).toBe('MIPSEG_CONFIG_INVALID');
    if (min > 0) expect(codeOf(() => loadConfig({ [key]: String(min - 1) }))).toBe('MIPSEG_CONFIG_INVALID');
  });

  test('states TRUST_PROXY\'s hop limit, 0 to 10, which config holds it to', () => {
    expect(rowOf('TRUST_PROXY')).toMatch(/a hop count from 0 to 10/);
    expect(loadConfig({ TRUST_PROXY: '10' }).trustProxy).toBe(10);
    expect(codeOf(() => loadConfig({ TRUST_PROXY: '11' }))).toBe('MIPSEG_CONFIG_INVALID');
  });
});

describe('several invalid settings', () => {
  function errorOf(fn: () => unknown): { code?: string; message: string } {
    try {
      fn();
    } catch (err) {
      return isMipsegError(err) ? { code: err.code, message: err.message } : { message: String(err) };
    }
    return { message: 'no error' };
  }

  test('are reported together, one line each, in one MIPSEG_CONFIG_INVALID (an admin fixed one a restart)', () => {
    const { code, message } = errorOf(() => loadConfig({ PORT: '-1', LOG_LEVEL: 'x', WORKER_CONCURRENCY: '0', DIMSE_AE_TITLE: 'A\\B' }));
    expect(code).toBe('MIPSEG_CONFIG_INVALID');
    expect(message.split('\n')).toEqual([
      'invalid configuration: 4 settings',
      'PORT=-1 (an integer from 0 to 65535)',
      expect.stringMatching(/^LOG_LEVEL=x \(/),
      'WORKER_CONCURRENCY=0 (an integer from 1 to 64)',
      'DIMSE_AE_TITLE=A\\B (1-16 printable characters, no backslash)',
    ]);
  });

  test('one alone reads as before', () => {
    expect(errorOf(() => loadConfig({ PORT: '-1' })).message).toBe('invalid configuration: PORT=-1 (an integer from 0 to 65535)');
  });

  test('come before the rules across settings, which are checked once each setting is valid', () => {
    expect(errorOf(() => loadConfig({ PORT: '11112', LOG_LEVEL: 'x' })).message).toMatch(/^invalid configuration: LOG_LEVEL=x /);
    expect(errorOf(() => loadConfig({ PORT: '11112' })).message).toMatch(/PORT and DIMSE_PORT are both 11112/);
  });
});
