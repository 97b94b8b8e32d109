#!/usr/bin/env -S node --single-threaded-gc
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isBearerToken, isLoopback, loadConfig, type ConfigKey } from '@mipseg/shared/config';
import { isMipsegError } from '@mipseg/shared/errors';
import { segmentMipFile } from '@mipseg/shared/inference';
import { createLogger } from '@mipseg/shared/log';
import { startPipeline } from '@mipseg/worker';
import { closeWithin } from './close-within';
import { closeOnSignals } from './shutdown-signals';
import { DEFAULT_MAX_REQUEST_BYTES, listFolder, sendFiles, sortFiles, type SendSummary } from './send';
import { serve } from './serve';

const VERSION = (JSON.parse(readFileSync(resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

// The only place that reads process.env: everything else receives the frozen Config.
const env = process.env;

function fail(err: unknown): never {
  const text = isMipsegError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`mipseg: ${text}\n`);
  process.exit(1);
}

interface ServeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
  insecure?: boolean;
  indexUnlistedFiles?: boolean;
}

async function serveCommand(opts: ServeOptions): Promise<void> {
  const overrides: Partial<Record<ConfigKey, string>> & { insecure?: boolean } = { insecure: opts.insecure === true };
  if (opts.host) overrides.HOST = opts.host;
  if (opts.port) overrides.PORT = opts.port;
  if (opts.dataDir) overrides.DATA_DIR = opts.dataDir;
  const config = loadConfig(env, overrides);
  const log = createLogger(config.logLevel);
  if (config.insecure && config.authTokens.length === 0) {
    log.warn({ host: config.host }, 'listening WITHOUT authentication (--insecure)');
    // Without tokens, Host headers are checked (DNS rebinding): a client from another machine names this one by an
    // address or name that only ALLOWED_HOSTS can admit, and would otherwise be refused with no hint why.
    if (!isLoopback(config.host) && config.allowedHosts.length === 0) {
      log.warn({ host: config.host }, 'ALLOWED_HOSTS is empty: requests whose Host is not localhost or a loopback address are refused '
        + '(403 MIPSEG_HOST_REFUSED); list the names and addresses clients use for this machine');
    }
  }
  await closeOnSignals(log, 'shutting down: finishing in-flight requests and associations',
    () => serve(config, log, { modelDir: modelDir(config.inference.modelDir), softwareVersion: VERSION,
      indexUnlistedFiles: opts.indexUnlistedFiles === true }),
    (service) => service.close());
}

interface SendCommandOptions {
  url: string;
  token?: string;
  batchSize: number;
  maxRequestBytes: number;
  progress: boolean;
}

/** Instances per STOW-RS request: a whole number from 1 (0 or less would send empty requests for ever). */
const MAX_BATCH_SIZE = 10_000;

function batchSizeArgument(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_BATCH_SIZE) {
    throw new InvalidArgumentError(`a whole number from 1 to ${MAX_BATCH_SIZE} is needed`);
  }
  return Number(value);
}

function maxRequestBytesArgument(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('a whole number of bytes from 1 is needed');
  }
  return Number(value);
}

/**
 * Why `value` is no DICOMweb base URL to send to, or undefined. Checked before the folder is walked: a URL without its
 * scheme failed only at the first batch, as if the server were down. The URL itself is not repeated (a password).
 */
function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'an http:// or https:// URL is needed, such as http://127.0.0.1:8080/dicomweb';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `an http:// or https:// URL is needed, not ${url.protocol}`;
  if (url.username || url.password) return 'a URL without user:password is needed (give the token with --token or MIPSEG_TOKEN)';
  return undefined;
}

/** The port of `send`'s default URL: PORT where it names one; 0 (a free port, for tests) names none, so 8080. */
function defaultPort(port: string | undefined): string {
  return port !== undefined && /^\d{1,5}$/.test(port) && Number(port) > 0 ? port : '8080';
}

/**
 * ", N not stored (why)", or '' where all were answered for: a request cut short by the server (a 202 listing fewer) is
 * told apart from a send that stopped (the server could not be reached, refused the token, redirected), whose reason
 * stderr gives.
 */
function notStoredWords({ notStored, notStoredAsStopped }: SendSummary): string {
  const cutShort = notStored - notStoredAsStopped;
  if (notStored === 0) return '';
  if (notStoredAsStopped === 0) return `, ${notStored} not stored (cut short by the server)`;
  if (cutShort === 0) return `, ${notStored} not stored (sending stopped)`;
  return `, ${notStored} not stored (${cutShort} cut short by the server, ${notStoredAsStopped} as sending stopped)`;
}

async function sendCommand(path: string, opts: SendCommandOptions): Promise<void> {
  // Surrounding whitespace is not the token's (a secret file's last line break), as the gateway reads its own files.
  const token = opts.token?.trim();
  const problem = urlProblem(opts.url);
  if (problem) fail(`--url: ${problem}`);
  // A token file's two lines in $(cat …) must not reach a header, or a message.
  if (token !== undefined && token !== '' && !isBearerToken(token)) {
    fail('--token (or MIPSEG_TOKEN): one bearer token is needed (letters, digits, -._~+/, trailing =; no spaces or line breaks)');
  }
  const listing = await listFolder(path);
  if (listing.hiddenFiles + listing.hiddenFolders > 0) {
    process.stderr.write(`skipping ${listing.hiddenFiles} hidden file(s) and ${listing.hiddenFolders} hidden folder(s) (names starting with ".")\n`);
  }
  const { instances: files, dicomdirs, notPart10 } = await sortFiles(listing.files);
  if (notPart10) process.stderr.write(`skipping ${notPart10} file(s) that are not PS3.10 DICOM (no "DICM" prefix)\n`);
  // A CD's index: the instances it lists are files of their own, sent as found.
  if (dicomdirs) process.stderr.write(`skipping ${dicomdirs} DICOMDIR file(s) (a media index, not an instance)\n`);
  if (files.length === 0) fail(`no DICOM files under ${path}`);
  const summary = await sendFiles(files, {
    url: opts.url,
    batchSize: opts.batchSize,
    maxRequestBytes: opts.maxRequestBytes,
    progress: opts.progress && process.stderr.isTTY === true,
    ...(token ? { token } : {}),
  });
  const rate = summary.seconds > 0 ? (summary.files / summary.seconds).toFixed(1) : '-';
  process.stdout.write(`${summary.stored} stored, ${summary.failed} failed${notStoredWords(summary)} of ${summary.files} files ` +
    `(${(summary.bytes / 1e6).toFixed(1)} MB in ${summary.seconds.toFixed(1)} s, ${rate} instances/s)\n`);
  for (const warning of summary.warnings) process.stderr.write(`server warning: ${warning}\n`);
  if (summary.stoppedBy !== undefined) process.stderr.write(`mipseg: sending stopped: ${summary.stoppedBy}\n`);
  // Success is every file stored: a server that stops reading a request answers 202 and fails nothing, and one whose
  // answers over-list in one batch must not make up for another's files left out.
  if (summary.stored < summary.files || summary.failed + summary.notStored > 0 || summary.statuses.some((s) => s >= 400)) {
    process.exitCode = 2;
  }
}

/** The model shipped beside the CLI (services/cli/dist → models/), unless MODEL_DIR names another. */
function modelDir(configured: string): string {
  return configured || resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');
}

async function segmentMipCommand(input: string, output: string): Promise<void> {
  const config = loadConfig(env, { listens: false });
  const result = await segmentMipFile(input, output, {
    modelDir: modelDir(config.inference.modelDir),
    threads: config.inference.threads,
    executionProvider: config.inference.executionProvider,
  });
  process.stdout.write(`${output}: ${result.width}x${result.height} mask, ${result.tumourPixels} tumour pixels ` +
    `(model ${result.modelVersion})\n`);
}

const program = new Command('mipseg').description('PACS-integrated AI for whole-body PET').version(VERSION).showHelpAfterError();

program
  .command('serve')
  .description('run the archive, DICOMweb gateway and DIMSE SCP (what `npm start` runs)')
  .option('--host <host>', 'address to listen on (HOST)')
  .option('--port <port>', 'HTTP port (PORT)')
  .option('--data-dir <dir>', 'data directory (DATA_DIR)')
  .option('--insecure', 'allow a non-loopback address without authentication')
  .option('--index-unlisted-files', 'store the instance files no index row lists, in series it knows (after a crash or a restored index backup)')
  .action((opts: ServeOptions) => serveCommand(opts).catch(fail));

program
  .command('send <path>')
  .description('send a DICOM file or folder to a DICOMweb server by STOW-RS')
  .addOption(new Option('--url <url>', 'DICOMweb base URL').default(`http://127.0.0.1:${defaultPort(env['PORT'])}/dicomweb`))
  .addOption(new Option('--token <token>', 'bearer token').env('MIPSEG_TOKEN'))
  .option('--batch-size <n>', `instances per STOW request (1-${MAX_BATCH_SIZE})`, batchSizeArgument, 100)
  .option('--max-request-bytes <n>', 'bytes per STOW request, at most (a larger file goes alone)', maxRequestBytesArgument, DEFAULT_MAX_REQUEST_BYTES)
  .option('--no-progress', 'no progress bar')
  .action((path: string, opts: SendCommandOptions) => sendCommand(path, opts).catch(fail));

async function workerCommand(): Promise<void> {
  const config = loadConfig(env, { listens: false });
  const log = createLogger(config.logLevel);
  if (!config.pipeline.redisUrl) fail('mipseg worker needs REDIS_URL (queue mode); `mipseg serve` analyses in-process without it');
  await closeOnSignals(log, 'worker shutting down: finishing the jobs in hand',
    () => startPipeline({ config, log: log.child({ component: 'worker' }), modelDir: modelDir(config.inference.modelDir),
      softwareVersion: VERSION, analyses: true }),
    (pipeline) => closeWithin('pipeline (job queue and analysis threads)', () => pipeline.close(), log, config.pipeline.workerShutdownMs));
}

program
  .command('worker')
  .description('take analysis and export jobs from Redis (REDIS_URL), reading from and storing to GATEWAY_URL')
  .action(() => workerCommand().catch(fail));

program
  .command('segment-mip <in.png> <out.png>')
  .description('segment a DM i AI style MIP PNG (inverted grey) and write a 0/255 mask PNG of the same size')
  .action((input: string, output: string) => segmentMipCommand(input, output).catch(fail));

program.parseAsync(process.argv).catch(fail);
