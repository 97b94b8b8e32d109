import { createRequire } from 'node:module';
import { Implementation, log as dimseLibraryLog } from 'dcmjs-dimse';
import type { Logger as LoglevelLogger } from 'loglevel';
import type { Logger } from '@mipseg/shared/log';
import { MIPSEG_IMPLEMENTATION_CLASS_UID, MIPSEG_IMPLEMENTATION_VERSION_NAME } from '@mipseg/shared/dicom';

// dcmjs-dimse keeps its logger and implementation identity process-wide; these set them, never at import.
let routed = false;

/**
 * dcmjs-dimse parses data sets with its own copy of dcmjs, whose logger warns on the console about every
 * private tag. It is reached through dcmjs-dimse's own module resolution, nested or hoisted alike.
 */
function dcmjsLogOfDimse(): LoglevelLogger | undefined {
  try {
    const requireFromDimse = createRequire(require.resolve('dcmjs-dimse'));
    return (requireFromDimse('dcmjs') as { log?: LoglevelLogger }).log;
  } catch {
    return undefined;
  }
}

function libraryLogs(): LoglevelLogger[] {
  const dcmjsLog = dcmjsLogOfDimse();
  return dcmjsLog ? [dimseLibraryLog, dcmjsLog] : [dimseLibraryLog];
}

/**
 * Sends dcmjs-dimse's own log (a loglevel logger that writes every PDU to the console at INFO) and that
 * of its dcmjs to `logger` at debug level. Its errors reach us as 'networkError' events, which we log
 * ourselves, so nothing is lost by demoting them. When debug is off the libraries are silenced, which also
 * spares them from formatting a description of every PDU. The last caller's logger wins.
 */
export function routeDcmjsDimseLog(logger: Logger): void {
  const target = logger.child({ library: 'dcmjs-dimse' });
  for (const log of libraryLogs()) {
    log.methodFactory = () => (...message: unknown[]) => target.debug(message.map(String).join(' '));
    log.setLevel(target.isLevelEnabled('debug') ? 'trace' : 'silent', false);
  }
  routed = true;
}

/** For an SCU: routes to `logger` if given, else silences the libraries unless a server routed them already. */
export function quietDcmjsDimseLog(logger?: Logger): void {
  if (logger) routeDcmjsDimseLog(logger);
  else if (!routed) for (const log of libraryLogs()) log.setLevel('silent', false);
}

/** Makes A-ASSOCIATE-RQ/AC carry mipseg's Implementation Class UID and Version Name. */
export function announceMipsegImplementation(): void {
  Implementation.setImplementationClassUid(MIPSEG_IMPLEMENTATION_CLASS_UID);
  Implementation.setImplementationVersion(MIPSEG_IMPLEMENTATION_VERSION_NAME);
}
