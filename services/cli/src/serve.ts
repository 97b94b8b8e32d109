import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { Archive } from '@mipseg/shared/store';
import { startGateway } from '@mipseg/gateway';
import { startDimseServer } from '@mipseg/dimse';
import { jobsRouter } from '@mipseg/gateway';
import { startPipeline } from '@mipseg/worker';

export interface RunningService {
  readonly httpPort: number;
  readonly dimsePort: number | undefined;
  close(): Promise<void>;
}

/** `mipseg serve`: the archive, the DICOMweb gateway and the DIMSE SCP in one process. */
export interface ServeOptions {
  readonly modelDir: string;
  readonly softwareVersion: string;
}

export async function serve(config: Config, log: Logger, options: ServeOptions): Promise<RunningService> {
  const archive = await Archive.open(config.dataDir, log.child({ component: 'archive' }));
  // Embedded mode analyses here; in queue mode (REDIS_URL) `mipseg worker` processes do.
  const pipeline = await startPipeline({ config, log: log.child({ component: 'pipeline' }), archive, modelDir: options.modelDir,
    softwareVersion: options.softwareVersion, analyses: !config.pipeline.redisUrl });
  const dimse = config.dimse.enabled
    ? await startDimseServer({ config, archive, log: log.child({ component: 'dimse' }) })
    : undefined;
  const gateway = await startGateway({ config, archive, log: log.child({ component: 'gateway' }),
    extraRouters: [{ path: '/api', router: jobsRouter(pipeline, archive) }] });
  log.info({ dataDir: config.dataDir, httpPort: gateway.port, dimsePort: dimse?.port, aeTitle: config.dimse.aeTitle,
    auth: config.authTokens.length > 0 }, 'mipseg ready');
  let closing: Promise<void> | undefined;
  return {
    httpPort: gateway.port,
    dimsePort: dimse?.port,
    close: () => {
      // In-flight requests and associations finish first; the index closes last.
      closing ??= (async () => {
        await Promise.all([gateway.close(), dimse?.close()]);
        await pipeline.close();
        archive.close();
      })();
      return closing;
    },
  };
}
