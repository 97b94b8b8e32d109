import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ORTHANC_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/** A DICOM peer Orthanc may C-ECHO / C-STORE to (its `DicomModalities` entry). */
export interface OrthancModality {
  readonly aet: string;
  readonly host: string;
  readonly port: number;
}

export interface OrthancOptions {
  /** Orthanc's `Name`; default "mipseg-test-orthanc". */
  readonly name?: string;
  /** Orthanc's own AE title; default "ORTHANC". */
  readonly aet?: string;
  /** DICOMweb servers Orthanc can act as a client of (`DicomWeb.Servers`): name → base URL ending in "/". */
  readonly dicomWebServers?: Readonly<Record<string, string>>;
  /** DIMSE peers (`DicomModalities`): name → AE title, host, port. */
  readonly dicomModalities?: Readonly<Record<string, OrthancModality>>;
  /** Ports to use instead of free ones (e.g. when a DicomWeb.Servers entry must point back at this Orthanc). */
  readonly httpPort?: number;
  readonly dicomPort?: number;
  /**
   * Any further top-level configuration (e.g. `StableAge`, `OverwriteInstances`, `SyncStorageArea`); applied
   * last, replacing whole top-level keys. `DicomWeb` entries are merged into the defaults instead.
   */
  readonly config?: Readonly<Record<string, unknown>>;
  /** How long to wait for `GET /system` to answer; default 30 s. */
  readonly startTimeoutMs?: number;
  /** The executable; default "Orthanc" on the PATH. */
  readonly binary?: string;
}

/** A private Orthanc on free ports over a temporary folder. */
export interface OrthancServer {
  readonly httpPort: number;
  readonly dicomPort: number;
  readonly aet: string;
  /** Orthanc's REST API root, e.g. http://127.0.0.1:8042 (no trailing slash). */
  readonly restUrl: string;
  /** Its DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web (no trailing slash). */
  readonly dicomwebUrl: string;
  /** The temporary folder holding configuration, storage, index and log. */
  readonly dir: string;
  readonly logPath: string;
  readonly pid: number;
  /** REST call answering JSON; throws with Orthanc's answer on a non-2xx status. */
  rest<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the temporary folder. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (bound to 0, then released). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function buildConfig(dir: string, httpPort: number, dicomPort: number, aet: string, options: OrthancOptions) {
  const servers = Object.fromEntries(Object.entries(options.dicomWebServers ?? {}).map(([name, url]) => [name, [url]]));
  const modalities = Object.fromEntries(
    Object.entries(options.dicomModalities ?? {}).map(([name, m]) => [name, [m.aet, m.host, m.port]]),
  );
  return {
    Name: options.name ?? 'mipseg-test-orthanc',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'index'),
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: aet,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    Plugins: [ORTHANC_DICOMWEB_PLUGIN],
    DicomModalities: modalities,
    ...options.config,
    DicomWeb: { Enable: true, Root: '/dicom-web/', Servers: servers, ...(options.config?.['DicomWeb'] as object | undefined) },
  };
}

function logTail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function killOrthanc(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (!(await waitForExit(child, 10_000))) {
    child.kill('SIGKILL');
    await waitForExit(child, 5_000);
  }
}

/** Polls `GET /system` until it answers 200; fails early if the process exits. */
async function waitUntilReady(child: ChildProcess, restUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Orthanc exited during start-up (code ${child.exitCode}, signal ${child.signalCode})`);
    try {
      const res = await fetch(`${restUrl}/system`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Orthanc did not answer GET /system within ${timeoutMs} ms`);
}

async function restCall<T>(restUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const res = await fetch(`${restUrl}${path}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`Orthanc ${method} ${path} answered ${res.status}: ${text.slice(0, 2000)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Starts a private Orthanc with the DICOMweb plugin, on free HTTP and DICOM ports, over a fresh temporary
 * folder; resolves once its REST API answers. Its log (stdout and stderr) goes to `orthanc.log` in that
 * folder, and the log's tail is part of the error when it does not start.
 */
export async function startOrthanc(options: OrthancOptions = {}): Promise<OrthancServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mipseg-orthanc-'));
  const aet = options.aet ?? 'ORTHANC';
  const logPath = join(dir, 'orthanc.log');
  let child: ChildProcess | undefined;
  try {
    const httpPort = options.httpPort ?? (await findFreePort());
    const dicomPort = options.dicomPort ?? (await findFreePort());
    await mkdir(join(dir, 'storage'));
    await mkdir(join(dir, 'index'));
    const configPath = join(dir, 'orthanc.json');
    await writeFile(configPath, JSON.stringify(buildConfig(dir, httpPort, dicomPort, aet, options), null, 2));
    const logFd = openSync(logPath, 'a');
    try {
      child = spawn(options.binary ?? 'Orthanc', [configPath], { cwd: dir, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const started = child;
    await new Promise<void>((resolve, reject) => {
      started.once('spawn', resolve);
      started.once('error', reject);
    });
    const restUrl = `http://127.0.0.1:${httpPort}`;
    await waitUntilReady(started, restUrl, options.startTimeoutMs ?? 30_000);
    return {
      httpPort,
      dicomPort,
      aet,
      restUrl,
      dicomwebUrl: `${restUrl}/dicom-web`,
      dir,
      logPath,
      pid: started.pid ?? -1,
      rest: (method, path, body) => restCall(restUrl, method, path, body),
      stop: async () => {
        await killOrthanc(started);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    const tail = logTail(logPath);
    if (child) await killOrthanc(child);
    await rm(dir, { recursive: true, force: true });
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`${reason}\n--- orthanc.log (tail) ---\n${tail}`, { cause: err });
  }
}
