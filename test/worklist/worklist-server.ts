import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import type { Logger } from '@mipseg/shared/log';
import { loadConfig, type Config, type ConfigKey } from '@mipseg/shared/config';
import { loadModel, type SegmentationModel } from '@mipseg/shared/inference';
import { EmbeddedJobQueue } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { closeGatewayAndWorklist, createWorklist, jobsRouter, startGateway, type GatewayDeps, type GatewayServer, type Worklist } from '@mipseg/gateway';

export const REPO = resolve(__dirname, '..', '..');
export const MODEL_DIR = join(REPO, 'models', 'mip-attention-unet');

/** Builds the worklist page: `npm test` builds everything first, and this lets a browser test file also run on its own. */
export function buildWorklistPage(): void {
  const built = spawnSync('npx', ['tsc', '-p', 'services/web'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building services/web failed:\n${built.stdout}${built.stderr}`);
}

export interface WorklistServer {
  readonly config: Config;
  readonly archive: Archive;
  readonly queue: EmbeddedJobQueue;
  readonly gateway: GatewayServer;
  readonly worklist: Worklist;
  readonly root: string;
  stop(): Promise<void>;
}

/**
 * The gateway with the worklist, in-process, over a fresh data directory and an embedded job queue that
 * nobody processes (tests put jobs in it directly). The page is served from services/web as built. `wrapModel` lets a
 * test hold the real model's segmentations (to fill the queue of "Try a MIP image"); `sessions`, a session store with
 * the test's own clock; `exportDestinations`, where the queue sends results (a test's own exportResult handler).
 */
export async function startWorklistServer(env: Partial<Record<ConfigKey, string>> = {}, ohifDist?: string,
  wrapModel: (model: SegmentationModel) => SegmentationModel = (model) => model, log: Logger = pino({ level: 'silent' }),
  deps: Pick<GatewayDeps, 'sessions'> & { readonly exportDestinations?: readonly string[] } = {}): Promise<WorklistServer> {
  const { exportDestinations = [], ...gatewayDeps } = deps;
  const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-worklist-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_ENABLED: 'false', ...env });
  const archive = await Archive.open(dataDir, log);
  const retry = { attempts: 1, baseDelayMs: 100 };
  const queue = new EmbeddedJobQueue(join(dataDir, 'jobs.sqlite'), log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [...exportDestinations] });
  const worklist = createWorklist({ config, archive, queue, log, webRoot: join(REPO, 'services', 'web'), eventPollMs: 200, ...(ohifDist ? { ohifDist } : {}),
    loadModel: async () => wrapModel(await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' })) });
  // The jobs API beside the worklist's, as `mipseg serve` mounts them; nothing here plans studies.
  const jobs = jobsRouter({ queue, analyzeNow: () => Promise.reject(new Error('no pipeline in this test server')) }, archive);
  const gateway = await startGateway({ config, archive, log, publicRouters: [{ path: '/', router: worklist.pageRouter }],
    extraRouters: [{ path: '/api', router: jobs }, { path: '/api', router: worklist.apiRouter }], ...gatewayDeps });
  return {
    config, archive, queue, gateway, worklist,
    root: `http://127.0.0.1:${gateway.port}`,
    stop: async () => {
      await closeGatewayAndWorklist(gateway, worklist, [], 1000);
      await queue.close();
      archive.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
