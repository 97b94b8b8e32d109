import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config, type ConfigKey } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { Archive } from '@mipseg/shared/store';
import { startGateway, type GatewayDeps, type GatewayServer } from '@mipseg/gateway';

export interface TestArchiveServer {
  readonly config: Config;
  readonly archive: Archive;
  readonly gateway: GatewayServer;
  readonly dataDir: string;
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/** A gateway on a free port over a fresh temporary data directory; `stop` removes everything. */
export async function startTestArchive(env: Partial<Record<ConfigKey, string>> = {}, log: Logger = pino({ level: 'silent' }),
  deps: Pick<GatewayDeps, 'studyDeletionGuard'> = {}): Promise<TestArchiveServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-test-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0', ...env });
  const archive = await Archive.open(dataDir, log);
  const gateway = await startGateway({ config, archive, log, ...deps });
  return {
    config,
    archive,
    gateway,
    dataDir,
    baseUrl: `http://127.0.0.1:${gateway.port}/dicomweb`,
    stop: async () => {
      await gateway.close(1000);
      archive.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
