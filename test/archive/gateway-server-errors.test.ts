import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@mipseg/shared/log';
import { loadConfig } from '@mipseg/shared/config';
import { Archive } from '@mipseg/shared/store';
import { startGateway } from '@mipseg/gateway';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly err?: { readonly message?: string };
}

describe('the DICOMweb gateway once listening', () => {
  test('logs a server error (an accept that fails with EMFILE) and keeps serving, however many come', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-server-errors-'));
    const lines: LogLine[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
    const archive = await Archive.open(dataDir, log);
    const gateway = await startGateway({ config: loadConfig({ DATA_DIR: dataDir, PORT: '0' }), archive, log });
    try {
      // What net.Server emits when accept() fails: with no 'error' listener, the second one ended the process.
      const accept = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
      expect(() => { gateway.server.emit('error', accept); gateway.server.emit('error', accept); }).not.toThrow();
      expect(lines.filter((l) => l.err?.message === 'accept EMFILE')).toHaveLength(2);
      expect((await fetch(`http://127.0.0.1:${gateway.port}/healthz`)).status).toBe(200);
    } finally {
      await gateway.close(1000);
      archive.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
