import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { MipsegError } from '../errors';
import { SettingsReader } from './settings-reader';

/** The longest QUIET_PERIOD_MS taken (a day): a study check due later than that was timed by a wrong clock. */
export const MAX_QUIET_PERIOD_MS = 86_400_000;

/**
 * The default JOB_MAX_STALLS: how often queue mode takes an analysis or export back from a worker that stopped renewing
 * its lock before it fails the job (see BullMqJobQueue's maxStalls).
 */
export const DEFAULT_JOB_MAX_STALLS = 5;

/** Everything mipseg can be configured with. Built once at start-up by {@link loadConfig}, then frozen. */
export interface Config {
  /**
   * The zone (TZ, else the machine's) in which result dates and times are written when the source states no
   * TimezoneOffsetFromUTC: an IANA name, such as Europe/Copenhagen.
   */
  readonly timeZone: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: string;
  /** Bearer tokens accepted by the gateway; empty = authentication off (only allowed on loopback). */
  readonly authTokens: readonly string[];
  readonly insecure: boolean;
  /**
   * Express's 'trust proxy': which peers may set X-Forwarded-Proto/Host/For (false: none, true: any, a hop count,
   * or addresses, subnets and the names loopback, linklocal, uniquelocal).
   */
  readonly trustProxy: boolean | number | readonly string[];
  /**
   * Without authTokens, the host names (lower case, IPv6 without brackets) a request's Host may name besides the
   * loopback ones (localhost, 127.0.0.0/8, ::1); every other Host is refused (DNS rebinding).
   */
  readonly allowedHosts: readonly string[];
  /** An HTTP connection on which no byte moves either way for this long is closed (its request aborted). */
  readonly httpInactivityTimeoutMs: number;
  /** Below this many free bytes on DATA_DIR's volume, /readyz answers 503; 0 leaves free space unchecked. */
  readonly minFreeDiskBytes: number;
  readonly maxRequestBytes: number;
  readonly maxInstanceBytes: number;
  readonly maxPartsPerRequest: number;
  readonly qidoMaxResults: number;
  /** DELETE /dicomweb/studies/{study} is answered (else 405): off unless the operator turns it on. */
  readonly allowStudyDelete: boolean;
  /** Copies of replaced instances under retired/ are removed after this many days; 0 keeps them for ever. */
  readonly retiredRetentionDays: number;
  /** Records of jobs finished longer ago are removed (JobQueue.pruneFinishedJobs); 0 keeps them for ever. */
  readonly jobRetentionDays: number;
  readonly inference: {
    /** The model folder (model.json + model.onnx); empty = the model shipped with mipseg. */
    readonly modelDir: string;
    readonly threads: number;
    readonly executionProvider: 'cpu' | 'cuda';
  };
  readonly pipeline: {
    /** Redis for BullMQ (queue mode); empty = embedded runner in this process. */
    readonly redisUrl: string;
    readonly queuePrefix: string;
    /** Quiet period after a study's last instance before it is analysed. */
    readonly quietPeriodMs: number;
    readonly workerConcurrency: number;
    readonly jobAttempts: number;
    readonly jobBackoffMs: number;
    /** A killed worker's job is retried after this long (BullMQ lock duration). */
    readonly jobLockMs: number;
    /** Queue mode: stalls (a worker killed, or cut off from Redis past its lock) a job survives before it is failed. */
    readonly jobMaxStalls: number;
    /** How long `mipseg worker` waits on SIGTERM for its jobs in hand before it exits without them. */
    readonly workerShutdownMs: number;
    /** Longest one analysis may run (decode to DICOM writing) before its thread is stopped and the job retried. */
    readonly analysisTimeoutMs: number;
    /** Where results go: `stow:<DICOMweb base URL>` or `dimse:<AE>@<host>:<port>`. */
    readonly exportDestinations: readonly string[];
    readonly exportAttempts: number;
    readonly exportBackoffMs: number;
    /** Bearer token sent to every `stow:` destination without its own; empty = none. A secret: never log it. */
    readonly exportStowToken: string;
    /** Each `stow:` destination's own token (EXPORT_STOW_TOKENS_FILE), keyed by its URL in one spelling: use stowTokenFor. Secrets. */
    readonly exportStowTokens: Readonly<Record<string, string>>;
    /** Queue-mode workers read studies from and store results to this gateway (DICOMweb base URL). */
    readonly gatewayUrl: string;
    /** Fewest slices a PET series needs to be analysed. */
    readonly minPetSlices: number;
    /** Least axial length (mm) a PET series needs to be analysed: whole-body, not brain or cardiac; 0: no limit. */
    readonly minPetCoverageMm: number;
    /** Our AE title when exporting by C-STORE. */
    readonly exportAeTitle: string;
  };
  readonly dimse: {
    readonly enabled: boolean;
    readonly port: number;
    readonly aeTitle: string;
    /** Calling AE titles allowed to associate; empty = accept all (each association logged). */
    readonly allowedCallingAeTitles: readonly string[];
    readonly maxAssociations: number;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

/** Defaults, in one table; the README's configuration section mirrors it. */
export const DEFAULTS = {
  HOST: '127.0.0.1',
  PORT: '8080',
  DATA_DIR: './data',
  LOG_LEVEL: 'info',
  AUTH_TOKENS: '',
  AUTH_TOKENS_FILE: '',
  TRUST_PROXY: 'false',
  ALLOWED_HOSTS: '',
  HTTP_INACTIVITY_TIMEOUT_MS: '300000',
  MIN_FREE_DISK_BYTES: String(1024 ** 3),
  MAX_REQUEST_BYTES: String(8 * 1024 ** 3),
  MAX_INSTANCE_BYTES: String(1024 ** 3),
  MAX_PARTS_PER_REQUEST: '20000',
  QIDO_MAX_RESULTS: '1000',
  ALLOW_STUDY_DELETE: 'false',
  RETIRED_RETENTION_DAYS: '0',
  TZ: '',
  JOB_RETENTION_DAYS: '0',
  REDIS_URL: '',
  QUEUE_PREFIX: 'mipseg',
  QUIET_PERIOD_MS: '5000',
  WORKER_CONCURRENCY: '1',
  JOB_ATTEMPTS: '3',
  JOB_BACKOFF_MS: '5000',
  JOB_LOCK_MS: '30000',
  JOB_MAX_STALLS: String(DEFAULT_JOB_MAX_STALLS),
  WORKER_SHUTDOWN_MS: '50000',
  ANALYSIS_TIMEOUT_MS: '600000',
  EXPORT_DESTINATIONS: '',
  EXPORT_ATTEMPTS: '5',
  EXPORT_BACKOFF_MS: '5000',
  EXPORT_STOW_TOKEN: '',
  EXPORT_STOW_TOKEN_FILE: '',
  EXPORT_STOW_TOKENS_FILE: '',
  GATEWAY_URL: 'http://127.0.0.1:8080/dicomweb',
  MIN_PET_SLICES: '50',
  MIN_PET_COVERAGE_MM: '500',
  EXPORT_AE_TITLE: 'MIPSEG',
  MODEL_DIR: '',
  INFERENCE_THREADS: '1',
  INFERENCE_EXECUTION_PROVIDER: 'cpu',
  DIMSE_ENABLED: 'true',
  DIMSE_PORT: '11112',
  DIMSE_AE_TITLE: 'MIPSEG',
  DIMSE_ALLOWED_AE_TITLES: '',
  DIMSE_MAX_ASSOCIATIONS: '16',
} as const;

export type ConfigKey = keyof typeof DEFAULTS;

function read(env: Env, key: ConfigKey): string {
  const value = env[key];
  return value === undefined || value === '' ? DEFAULTS[key] : value;
}

function readInt(env: Env, key: ConfigKey, min: number, max: number): number {
  return parseInteger(key, read(env, key), min, max);
}

function parseInteger(key: ConfigKey, raw: string, min: number, max: number): number {
  // Digits only: Number() would also take 0x50, 1e3 and ' 80', which an operator never means as written.
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}=${raw} (an integer from ${min} to ${max})`);
  }
  return n;
}

/**
 * TZ is node's own (it sets the zone of every local date and time); read here only to refuse a name node does not
 * know, which it would otherwise take silently as UTC, and results would then carry UTC times as local ones.
 */
function readTimeZone(env: Env): string {
  const tz = read(env, 'TZ');
  // ":/etc/localtime" and other file forms are the C library's, which node follows too; they cannot be checked here.
  if (tz !== '' && !tz.startsWith(':') && !isZoneNodeTakes(tz)) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `TZ=${JSON.stringify(tz)} (a time zone name spelled exactly, such as Europe/Copenhagen, or UTC)`);
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Whether node sets its zone from TZ=`tz`. Intl takes a name in any case ("europe/copenhagen") and node does not:
 * given that, or a name with a space around it, node runs in UTC. A name Intl resolves to itself in another case is
 * so misspelled; an alias (US/Eastern) resolves to another name altogether. Where `tz` is this process's own TZ,
 * node has said already: it has a zone, or none.
 */
function isZoneNodeTakes(tz: string): boolean {
  if (tz.trim() !== tz) return false;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  if (resolved !== tz && resolved.toLowerCase() === tz.toLowerCase()) return false;
  return tz !== process.env['TZ'] || (Intl.DateTimeFormat().resolvedOptions().timeZone as string | undefined) !== undefined;
}

function readBool(env: Env, key: ConfigKey): boolean {
  const raw = read(env, key).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}=${raw} (true or false)`);
}

/** A list of entries none of which can hold a space (tokens, host names, addresses): commas or whitespace separate them. */
function readList(raw: string): string[] {
  return raw
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * A list of entries that may hold spaces: AE titles ("MAIN PACS") and the DIMSE destinations that name one.
 * Only commas separate them; an entry's leading and trailing spaces go, as they are not significant in an AE
 * title (PS3.5 6.2, AE).
 */
function readCommaList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** An AE title (PS3.5 AE): 1-16 printable characters other than backslash, not only spaces. */
function isAeTitle(ae: string): boolean {
  return /^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(ae) && ae.trim() !== '';
}

function readAeTitle(env: Env, key: ConfigKey): string {
  const ae = read(env, key);
  if (!isAeTitle(ae)) throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}=${ae} (1-16 printable characters, no backslash)`);
  return ae;
}

/**
 * A DIMSE_ALLOWED_AE_TITLES entry: a calling AE title, or `AE@address` where the association must also come from
 * that IP address (AE titles are sent by the peer and trivially copied; the address is the connection's). An entry
 * whose part after the last "@" is no IP address is taken whole here; loadConfig refuses such entries.
 */
export function splitAllowedAeEntry(entry: string): { readonly aeTitle: string; readonly address?: string } {
  const at = entry.lastIndexOf('@');
  const address = at > 0 ? entry.slice(at + 1).trim() : '';
  // The title's padding is not part of it (an A-ASSOCIATE-RQ's is trimmed too): "MAIN PACS @10.0.0.5" names MAIN PACS.
  return isIP(address) ? { aeTitle: entry.slice(0, at).trim(), address: canonicalIp(address) } : { aeTitle: entry };
}

/**
 * One spelling of an IP address, so that an entry and a connection's address compare equal: IPv6 compressed and in
 * lower case (fd00:0::1 is fd00::1), and an IPv4 address mapped into IPv6 (::ffff:10.0.0.5, as a dual-stack socket
 * reports an IPv4 peer) as the IPv4 address.
 */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  // A link-local address may carry its zone (fe80::1%eth0), which URL does not take: the zone is kept as written.
  const zoneAt = address.indexOf('%');
  if (zoneAt >= 0) return `${canonicalIp(address.slice(0, zoneAt))}${address.slice(zoneAt)}`;
  const compressed = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (!mapped) return compressed;
  const [hi, lo] = [parseInt(mapped[1] as string, 16), parseInt(mapped[2] as string, 16)];
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/**
 * A list of AE titles, each optionally AE@address: an entry that could never match a peer's title is a typo to report
 * at start-up, and so is one with "@" but no IP address after it (a host name: "PACS@pacs.local" would otherwise allow
 * the title "PACS@pacs.local" from anywhere, not PACS from that host), or no title before it. A title that itself
 * holds "@" (legal, rare) can therefore be listed only tied to an address ("A@B@10.0.0.5", split at the last "@").
 */
function readAeTitles(env: Env, key: ConfigKey): string[] {
  const list = readCommaList(read(env, key));
  // Said first: "@10.0.0.5" has an address but lacks the title, and "only an IP address may follow" would send the
  // operator looking at the address.
  const noTitle = list.find((entry) => entry.includes('@') && entry.slice(0, entry.lastIndexOf('@')).trim() === '');
  if (noTitle !== undefined) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key} entry "${noTitle}": no AE title before "@" `
      + '(AE@address names the calling AE title, then its IP address, such as MAIN PACS@10.0.0.5)');
  }
  const noAddress = list.find((entry) => entry.includes('@') && splitAllowedAeEntry(entry).address === undefined);
  if (noAddress !== undefined) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key} entry "${noAddress}": only an IP address may follow "@" `
      + '(AE@address, such as MAIN PACS@10.0.0.5; no host name or port)');
  }
  const bad = list.find((entry) => !isAeTitle(splitAllowedAeEntry(entry).aeTitle));
  if (bad !== undefined) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key} entry "${bad}" (an AE title of 1-16 printable characters, no backslash; `
      + 'or AE@address, an IP address)');
  }
  return list;
}

/** HOST: an IPv4 or IPv6 address, or a host name (what the HTTP server's listen() resolves); no port. */
function readHost(env: Env): string {
  const host = read(env, 'HOST');
  const hostName = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (isIP(host) === 0 && !hostName.test(host)) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `HOST=${host} (an IP address or host name, without a port: PORT sets that)`);
  }
  return host;
}

/** QUEUE_PREFIX: it begins every Redis key; ':' and braces would change how BullMQ's keys split and hash. */
function readQueuePrefix(env: Env): string {
  const prefix = read(env, 'QUEUE_PREFIX');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `QUEUE_PREFIX=${prefix} (1-64 letters, digits, '_', '.' or '-')`);
  }
  return prefix;
}

/**
 * A URL as a message may show it: a password in it (redis://:secret@host) replaced by ***, and no query or fragment
 * (a ?token=… is a secret too). Everything up to the last "@" is taken for userinfo first: a password written unescaped
 * may hold "/", "?", "#" and "@", none of which then ends it. (An "@" in a path hides the host too: more hidden, never a
 * password shown.)
 */
function shownUrl(raw: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0];
  const rest = scheme === undefined ? raw : raw.slice(scheme.length);
  const at = scheme === undefined ? -1 : rest.lastIndexOf('@');
  const withoutUserinfo = at < 0 ? raw : `${scheme}***@${rest.slice(at + 1)}`;
  return withoutUserinfo.replace(/[?#][\s\S]*$/, '');
}

/** A URL of one of `protocols` (e.g. 'http:'), or empty where `optional`. */
function readUrl(env: Env, key: ConfigKey, protocols: readonly string[], optional = false, allowUserinfo = false): string {
  const raw = read(env, key);
  if (raw === '' && optional) return raw;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !protocols.includes(url.protocol) || url.hostname === '') {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}=${shownUrl(raw)} (a ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL)`);
  }
  // fetch refuses a URL with user:password (every request would fail, its message showing the password); Redis's
  // password has no other place, and ioredis takes it there.
  if (!allowUserinfo && (url.username !== '' || url.password !== '')) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}=${shownUrl(raw)}: no user:password in this URL (a worker sends the gateway the first of AUTH_TOKENS)`);
  }
  return raw;
}

/**
 * GATEWAY_URL: a base that workers add paths to (`/studies/...`), so it may hold no query or fragment, where those
 * paths would land, and its trailing slashes go (a double one would reach the gateway as an empty path segment).
 */
function readGatewayUrl(env: Env): string {
  const raw = readUrl(env, 'GATEWAY_URL', ['http:', 'https:']);
  // The raw text, not URL's search and hash: those are empty for a bare "?" or "#", which would still take the paths.
  if (/[?#]/.test(raw)) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `GATEWAY_URL=${shownUrl(raw)} followed by a "?" query or "#" fragment (not shown): `
      + 'workers add paths to this URL, so it may hold neither');
  }
  return raw.replace(/\/+$/, '');
}

/** A file named by `key` (a secret kept out of the environment); the message names the variable, never the content. */
function readSecretFile(key: ConfigKey, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

const BEARER_TOKEN_WORDS = 'one RFC 6750 bearer token (letters, digits, -._~+/, trailing =)';

/**
 * `where` names where the tokens came from (a variable, a file's line), so that the operator knows which to fix; the
 * tokens are never shown. Each must be a token a client can send: one that is not (a password with $ or !, a letter
 * outside ASCII) could never sign in, and the CLI and the worker, which send the first, would refuse it.
 */
function checkTokens(where: string, tokens: readonly string[]): void {
  if (tokens.some((t) => t.length < 16)) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${where}: every token needs at least 16 characters`);
  }
  if (!tokens.every(isBearerToken)) throw new MipsegError('MIPSEG_CONFIG_INVALID', `${where}: every token must be ${BEARER_TOKEN_WORDS}`);
}

/** AUTH_TOKENS_FILE's tokens: one or more per line (comma or space separated); blank lines and # comments skipped. */
function readTokenFile(file: string): string[] {
  const tokens: string[] = [];
  readSecretFile('AUTH_TOKENS_FILE', file).split(/\r?\n/).forEach((text, i) => {
    const line = text.trim();
    if (line === '' || line.startsWith('#')) return;
    const onLine = readList(line);
    checkTokens(`AUTH_TOKENS_FILE=${file} line ${i + 1}`, onLine);
    tokens.push(...onLine);
  });
  return tokens;
}

function readTokens(env: Env): string[] {
  const inline = readList(read(env, 'AUTH_TOKENS'));
  checkTokens('AUTH_TOKENS', inline);
  const file = read(env, 'AUTH_TOKENS_FILE');
  if (!file) return inline;
  const fromFile = readTokenFile(file);
  // No tokens would mean no authentication: a file not yet written or truncated must not turn it off unannounced.
  if (fromFile.length === 0) throw new MipsegError('MIPSEG_CONFIG_INVALID', `AUTH_TOKENS_FILE=${file} holds no token`);
  return [...inline, ...fromFile];
}

// RFC 6750 b64token: also keeps whitespace and line breaks (header injection) out of the Authorization header.
const BEARER_TOKEN = /^[\w.~+/-]+=*$/;

/** Whether `token` is one RFC 6750 bearer token (b64token), as every token mipseg sends must be. */
export function isBearerToken(token: string): boolean {
  return BEARER_TOKEN.test(token);
}

/** The token mipseg sends to STOW-RS destinations. Messages name the variable, never the token. */
function readExportStowToken(env: Env): string {
  const inline = read(env, 'EXPORT_STOW_TOKEN');
  const file = read(env, 'EXPORT_STOW_TOKEN_FILE');
  if (inline && file) throw new MipsegError('MIPSEG_CONFIG_INVALID', 'EXPORT_STOW_TOKEN and EXPORT_STOW_TOKEN_FILE are both set (use one)');
  const token = file ? readSecretFile('EXPORT_STOW_TOKEN_FILE', file).trim() : inline;
  if (token && !isBearerToken(token)) {
    const key = file ? 'EXPORT_STOW_TOKEN_FILE' : 'EXPORT_STOW_TOKEN';
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${key}: the token must be one RFC 6750 bearer token (letters, digits, -._~+/, trailing =)`);
  }
  if (file && !token) throw new MipsegError('MIPSEG_CONFIG_INVALID', `EXPORT_STOW_TOKEN_FILE=${file} is empty`);
  return token;
}

/** A stow: destination's URL in one spelling (trailing slash, case of scheme and host), to match the two lists. */
function sameUrl(url: string): string {
  return new URL(url).href.replace(/\/+$/, '');
}

/**
 * EXPORT_STOW_TOKENS_FILE: one `<stow URL> <token>` per line (`#` comments and blank lines ignored), so that each
 * DICOMweb destination gets its own token and none sees another's. Every URL must be one of EXPORT_DESTINATIONS'
 * stow: entries: a typo fails the start instead of sending EXPORT_STOW_TOKEN, or nothing, to that destination.
 * Keyed by the URL in one spelling (sameUrl). Messages name the line and the URL, never a token, nor a first field
 * that is not a URL (a line written token first). `destinations` undefined: EXPORT_DESTINATIONS was refused, so the
 * URLs cannot be checked against it (that refusal is the one to report); the rest of the file still is.
 */
function readExportStowTokens(env: Env, destinations: readonly string[] | undefined): Record<string, string> {
  const file = read(env, 'EXPORT_STOW_TOKENS_FILE');
  if (!file) return {};
  const stow = destinations && new Set(destinations.filter((d) => d.startsWith('stow:')).map((d) => sameUrl(d.slice('stow:'.length))));
  const tokens: Record<string, string> = {};
  const fail = (line: number, why: string) => new MipsegError('MIPSEG_CONFIG_INVALID', `EXPORT_STOW_TOKENS_FILE=${file} line ${line}: ${why}`);
  readSecretFile('EXPORT_STOW_TOKENS_FILE', file).split(/\r?\n/).forEach((text, i) => {
    const line = text.trim();
    if (line === '' || line.startsWith('#')) return;
    const [rawUrl = '', token, ...rest] = line.split(/\s+/);
    const url = rawUrl.startsWith('stow:') ? rawUrl.slice('stow:'.length) : rawUrl;
    if (token === undefined || rest.length > 0) throw fail(i + 1, 'expected "<stow URL> <token>"');
    if (!isDestination(`stow:${url}`)) throw fail(i + 1, 'the first field is not an http(s) URL without user:password, query or fragment (expected "<stow URL> <token>")');
    const key = sameUrl(url);
    if (stow !== undefined && !stow.has(key)) throw fail(i + 1, `${url} is not a stow: entry of EXPORT_DESTINATIONS`);
    if (key in tokens) throw fail(i + 1, `${url} is listed twice`);
    if (!isBearerToken(token)) throw fail(i + 1, `the token must be ${BEARER_TOKEN_WORDS}`);
    tokens[key] = token;
  });
  if (Object.keys(tokens).length === 0) throw new MipsegError('MIPSEG_CONFIG_INVALID', `EXPORT_STOW_TOKENS_FILE=${file} holds no token`);
  return tokens;
}

/**
 * The bearer token for a `stow:` destination, or '' for none: its own from EXPORT_STOW_TOKENS_FILE (in any spelling
 * of its URL), else EXPORT_STOW_TOKEN. An export still queued for a destination since taken out of
 * EXPORT_DESTINATIONS gets EXPORT_STOW_TOKEN only where no tokens file is used: with one, the shared token belongs
 * to the destinations configured, and it is not sent to one that may have had a token of its own.
 */
export function stowTokenFor(pipeline: Config['pipeline'], destination: string): string {
  const url = URL.canParse(destination.slice('stow:'.length)) ? sameUrl(destination.slice('stow:'.length)) : destination;
  const own = pipeline.exportStowTokens[url];
  if (own !== undefined) return own;
  const usesFile = Object.keys(pipeline.exportStowTokens).length > 0;
  const configured = pipeline.exportDestinations.some((d) => d.startsWith('stow:') && sameUrl(d.slice('stow:'.length)) === url);
  return configured || !usesFile ? pipeline.exportStowToken : '';
}

const DIMSE_DESTINATION = /^dimse:([\x20-\x5b\x5d-\x7e]{1,16})@([^:\s]+):(\d{1,5})$/;

/** stow:<http(s) URL> or dimse:<AE>@<host>:<port 1-65535>, checked whole so that a typo fails the start, not each export. */
function isDestination(d: string): boolean {
  if (d.startsWith('stow:')) {
    // A URL holds no whitespace, but URL() would encode it: two stow: entries separated by a space (commas alone
    // separate destinations) would become one URL with "%20stow:" in its path instead of failing here.
    if (/\s/.test(d)) return false;
    try {
      const url = new URL(d.slice('stow:'.length));
      // No user:password@: fetch refuses such URLs (every export would fail), and the password would be shown. No query
      // or fragment (a "?" alone too, which URL() drops): /studies would be appended to it, the token in it shown in
      // every export record and log line.
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === ''
        && !/[?#]/.test(d);
    } catch {
      return false;
    }
  }
  const m = DIMSE_DESTINATION.exec(d);
  const port = Number(m?.[3]);
  return m !== null && isAeTitle(m[1] as string) && port >= 1 && port <= 65535;
}

function readDestinations(raw: string): string[] {
  const list = readCommaList(raw);
  const bad = list.find((d) => !isDestination(d));
  if (bad) {
    const shown = bad.startsWith('stow:') ? `stow:${shownUrl(bad.slice('stow:'.length))}` : bad;
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `EXPORT_DESTINATIONS entry "${shown}" `
      + '(stow:<http(s) URL> without user:password, query or fragment, whose token goes in EXPORT_STOW_TOKEN; or dimse:<AE>@<host>:<port 1-65535>)');
  }
  return list;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function readLogLevel(env: Env): string {
  const level = read(env, 'LOG_LEVEL');
  if (!LOG_LEVELS.includes(level)) throw new MipsegError('MIPSEG_CONFIG_INVALID', `LOG_LEVEL=${level} (${LOG_LEVELS.join(', ')})`);
  return level;
}

function readProvider(env: Env): 'cpu' | 'cuda' {
  const raw = read(env, 'INFERENCE_EXECUTION_PROVIDER');
  if (raw !== 'cpu' && raw !== 'cuda') throw new MipsegError('MIPSEG_CONFIG_INVALID', `INFERENCE_EXECUTION_PROVIDER=${raw} (cpu or cuda)`);
  return raw;
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IPv4/IPv6 address, optionally with a /prefix (a subnet), as proxy-addr takes it. */
function isAddressOrSubnet(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: off unless the operator says a reverse proxy is in front, because a trusted X-Forwarded-Proto/Host
 * decides the session cookie's Secure flag, the RetrieveURLs and the origin that cross-site requests are checked
 * against; any client could forge them if every peer were believed.
 */
function readTrustProxy(env: Env): boolean | number | readonly string[] {
  const raw = read(env, 'TRUST_PROXY').trim().toLowerCase();
  if (['false', 'off', 'no'].includes(raw)) return false;
  if (['true', 'on', 'yes'].includes(raw)) return true;
  // The trimmed value, as for true/false: readInt would re-read the raw one and refuse " 2".
  if (/^\d+$/.test(raw)) return parseInteger('TRUST_PROXY', raw, 0, 10) || false;
  const list = readList(raw);
  const bad = list.find((e) => !PROXY_NAMES.has(e) && !isAddressOrSubnet(e));
  if (bad !== undefined || list.length === 0) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `TRUST_PROXY entry "${bad ?? raw}" (false, true, a hop count 0-10, or addresses, `
      + 'subnets and loopback, linklocal, uniquelocal)');
  }
  return Object.freeze(list);
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * A host name or address as it is compared with a Host header's (see hostnameOf): lower case, IPv6 without
 * brackets; undefined when it is neither a DNS name nor an IP address.
 */
export function normaliseHostname(raw: string): string | undefined {
  const host = raw.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) === 6) return new URL(`http://[${host}]`).hostname.slice(1, -1);
  if (isIP(host) === 4 || HOST_NAME.test(host)) return host;
  return undefined;
}

function readAllowedHosts(env: Env): string[] {
  return readList(read(env, 'ALLOWED_HOSTS')).map((entry) => {
    const host = normaliseHostname(entry);
    if (host === undefined) throw new MipsegError('MIPSEG_CONFIG_INVALID', `ALLOWED_HOSTS entry "${entry}" (a host name or IP address, no port)`);
    return host;
  });
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * localhost, ::1 or an IPv4 address in 127.0.0.0/8 (not a name that merely starts with "127.", such as
 * 127.0.0.1.evil.example), in any case and spelling: LOCALHOST, 0:0:0:0:0:0:0:1 and ::ffff:127.0.0.1 (IPv4 loopback
 * mapped into IPv6) are loopback too: a loopback bind needs no tokens however it is written.
 */
export function isLoopback(host: string): boolean {
  const canonical = canonicalIp(host.toLowerCase());
  return LOOPBACK.has(canonical) || (isIP(canonical) === 4 && canonical.startsWith('127.'));
}

/**
 * Reads, validates and freezes the configuration. `overrides` come from CLI flags and win over env.
 * Refuses a non-loopback bind without authentication unless `insecure` is set, or `listens` is false: a
 * command that opens no port (the worker, segment-mip) has no bind to refuse, even where HOST=0.0.0.0 is set
 * for the gateway in the same image.
 */
export function loadConfig(
  env: Env,
  overrides: Partial<Record<ConfigKey, string>> & { insecure?: boolean; listens?: boolean } = {},
): Config {
  const { insecure = false, listens = true, ...rest } = overrides;
  const merged: Env = { ...env, ...rest };
  const settings = new SettingsReader(merged);
  const s = settings.read.bind(settings);
  const destinations = s('EXPORT_DESTINATIONS', (e) => readDestinations(read(e, 'EXPORT_DESTINATIONS')));
  const config: Config = {
    timeZone: s('TZ', readTimeZone),
    host: s('HOST', readHost),
    port: s('PORT', (e) => readInt(e, 'PORT', 0, 65535)),
    dataDir: resolve(read(merged, 'DATA_DIR')),
    logLevel: s('LOG_LEVEL', readLogLevel),
    authTokens: Object.freeze(s(['AUTH_TOKENS', 'AUTH_TOKENS_FILE'], readTokens)),
    insecure,
    trustProxy: s('TRUST_PROXY', readTrustProxy),
    allowedHosts: Object.freeze(s('ALLOWED_HOSTS', readAllowedHosts)),
    httpInactivityTimeoutMs: s('HTTP_INACTIVITY_TIMEOUT_MS', (e) => readInt(e, 'HTTP_INACTIVITY_TIMEOUT_MS', 1000, 86_400_000)),
    minFreeDiskBytes: s('MIN_FREE_DISK_BYTES', (e) => readInt(e, 'MIN_FREE_DISK_BYTES', 0, Number.MAX_SAFE_INTEGER)),
    maxRequestBytes: s('MAX_REQUEST_BYTES', (e) => readInt(e, 'MAX_REQUEST_BYTES', 1024, Number.MAX_SAFE_INTEGER)),
    maxInstanceBytes: s('MAX_INSTANCE_BYTES', (e) => readInt(e, 'MAX_INSTANCE_BYTES', 1024, Number.MAX_SAFE_INTEGER)),
    maxPartsPerRequest: s('MAX_PARTS_PER_REQUEST', (e) => readInt(e, 'MAX_PARTS_PER_REQUEST', 1, 10_000_000)),
    qidoMaxResults: s('QIDO_MAX_RESULTS', (e) => readInt(e, 'QIDO_MAX_RESULTS', 1, 1_000_000)),
    allowStudyDelete: s('ALLOW_STUDY_DELETE', (e) => readBool(e, 'ALLOW_STUDY_DELETE')),
    retiredRetentionDays: s('RETIRED_RETENTION_DAYS', (e) => readInt(e, 'RETIRED_RETENTION_DAYS', 0, 36_500)),
    jobRetentionDays: s('JOB_RETENTION_DAYS', (e) => readInt(e, 'JOB_RETENTION_DAYS', 0, 36_500)),
    pipeline: Object.freeze({
      redisUrl: s('REDIS_URL', (e) => readUrl(e, 'REDIS_URL', ['redis:', 'rediss:'], true, true)),
      queuePrefix: s('QUEUE_PREFIX', readQueuePrefix),
      quietPeriodMs: s('QUIET_PERIOD_MS', (e) => readInt(e, 'QUIET_PERIOD_MS', 0, MAX_QUIET_PERIOD_MS)),
      workerConcurrency: s('WORKER_CONCURRENCY', (e) => readInt(e, 'WORKER_CONCURRENCY', 1, 64)),
      jobAttempts: s('JOB_ATTEMPTS', (e) => readInt(e, 'JOB_ATTEMPTS', 1, 100)),
      jobBackoffMs: s('JOB_BACKOFF_MS', (e) => readInt(e, 'JOB_BACKOFF_MS', 0, 3_600_000)),
      jobLockMs: s('JOB_LOCK_MS', (e) => readInt(e, 'JOB_LOCK_MS', 1000, 3_600_000)),
      // At least 1: at 0 every worker restart failed the jobs it held. At most 100: an input that kills its worker each
      // time (out of memory) must still end failed, not take workers down for days.
      jobMaxStalls: s('JOB_MAX_STALLS', (e) => readInt(e, 'JOB_MAX_STALLS', 1, 100)),
      workerShutdownMs: s('WORKER_SHUTDOWN_MS', (e) => readInt(e, 'WORKER_SHUTDOWN_MS', 1000, 3_600_000)),
      analysisTimeoutMs: s('ANALYSIS_TIMEOUT_MS', (e) => readInt(e, 'ANALYSIS_TIMEOUT_MS', 10_000, 86_400_000)),
      exportDestinations: Object.freeze(destinations),
      exportAttempts: s('EXPORT_ATTEMPTS', (e) => readInt(e, 'EXPORT_ATTEMPTS', 1, 100)),
      exportBackoffMs: s('EXPORT_BACKOFF_MS', (e) => readInt(e, 'EXPORT_BACKOFF_MS', 0, 3_600_000)),
      exportStowToken: s(['EXPORT_STOW_TOKEN', 'EXPORT_STOW_TOKEN_FILE'], readExportStowToken),
      exportStowTokens: Object.freeze(s('EXPORT_STOW_TOKENS_FILE',
        (e) => readExportStowTokens(e, settings.refused('EXPORT_DESTINATIONS') ? undefined : destinations))),
      gatewayUrl: s('GATEWAY_URL', readGatewayUrl),
      minPetSlices: s('MIN_PET_SLICES', (e) => readInt(e, 'MIN_PET_SLICES', 1, 100_000)),
      minPetCoverageMm: s('MIN_PET_COVERAGE_MM', (e) => readInt(e, 'MIN_PET_COVERAGE_MM', 0, 10_000)),
      exportAeTitle: s('EXPORT_AE_TITLE', (e) => readAeTitle(e, 'EXPORT_AE_TITLE')),
    }),
    inference: Object.freeze({
      modelDir: read(merged, 'MODEL_DIR') ? resolve(read(merged, 'MODEL_DIR')) : '',
      threads: s('INFERENCE_THREADS', (e) => readInt(e, 'INFERENCE_THREADS', 1, 256)),
      executionProvider: s('INFERENCE_EXECUTION_PROVIDER', readProvider),
    }),
    dimse: Object.freeze({
      enabled: s('DIMSE_ENABLED', (e) => readBool(e, 'DIMSE_ENABLED')),
      port: s('DIMSE_PORT', (e) => readInt(e, 'DIMSE_PORT', 0, 65535)),
      aeTitle: s('DIMSE_AE_TITLE', (e) => readAeTitle(e, 'DIMSE_AE_TITLE')),
      allowedCallingAeTitles: Object.freeze(s('DIMSE_ALLOWED_AE_TITLES', (e) => readAeTitles(e, 'DIMSE_ALLOWED_AE_TITLES'))),
      maxAssociations: s('DIMSE_MAX_ASSOCIATIONS', (e) => readInt(e, 'DIMSE_MAX_ASSOCIATIONS', 1, 1000)),
    }),
  };
  // The rules across settings below read the values: only once each is valid.
  settings.throwIfRefused();
  // An instance over the request's limit could never arrive whole by STOW: with DIMSE off, a typo (a digit short) to
  // report now. With DIMSE on the larger limit is C-STORE's (a site keeping HTTP uploads under a proxy's cap while taking
  // large multi-frame instances by C-STORE). Only where the process takes STOW: the worker and segment-mip read the same
  // .env. (A request also carries its multipart framing, so an instance of exactly MAX_REQUEST_BYTES cannot arrive
  // either; the check is for typos, not that last hundred bytes.)
  if (listens && !config.dimse.enabled && config.maxInstanceBytes > config.maxRequestBytes) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `MAX_INSTANCE_BYTES=${config.maxInstanceBytes} is larger than MAX_REQUEST_BYTES=`
      + `${config.maxRequestBytes} with DIMSE off: no STOW request could carry such an instance (MAX_INSTANCE_BYTES defaults to 1 GiB; lower it too)`);
  }
  // Said here, naming both settings: the second listener would otherwise fail with a bare EADDRINUSE after the first
  // had started, and the pipeline with it.
  if (listens && config.dimse.enabled && config.port !== 0 && config.port === config.dimse.port) {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `PORT and DIMSE_PORT are both ${config.port}: HTTP and DIMSE need ports of their own`);
  }
  if (listens && !isLoopback(config.host) && config.authTokens.length === 0 && !config.insecure) {
    throw new MipsegError('MIPSEG_INSECURE_BIND', config.host);
  }
  // DIMSE has no tokens: on a reachable address, an SCP open to every calling AE title would let any host store (and
  // replace) instances that the HTTP side guards.
  if (listens && config.dimse.enabled && !isLoopback(config.host) && config.dimse.allowedCallingAeTitles.length === 0 && !config.insecure) {
    throw new MipsegError('MIPSEG_INSECURE_DIMSE_BIND', config.host);
  }
  return Object.freeze(config);
}
