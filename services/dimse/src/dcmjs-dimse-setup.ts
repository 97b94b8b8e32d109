import { Implementation, log as dimseLibraryLog } from 'dcmjs-dimse';
import type { Logger } from '@mipseg/shared/log';
import { MIPSEG_IMPLEMENTATION_CLASS_UID, MIPSEG_IMPLEMENTATION_VERSION_NAME } from './file-meta';

// dcmjs-dimse keeps its logger and implementation identity process-wide; these set them, never at import.
let routed = false;

/**
 * Sends dcmjs-dimse's own log (a loglevel logger that writes every PDU to the console at INFO) to `logger`
 * at debug level. Its errors reach us as 'networkError' events, which we log ourselves, so nothing is lost
 * by demoting them. When debug is off the library is silenced, which also spares it from formatting a
 * description of every PDU. The last caller's logger wins.
 */
export function routeDcmjsDimseLog(logger: Logger): void {
  const target = logger.child({ library: 'dcmjs-dimse' });
  dimseLibraryLog.methodFactory = () => (...message: unknown[]) => target.debug(message.map(String).join(' '));
  dimseLibraryLog.setLevel(target.isLevelEnabled('debug') ? 'trace' : 'silent', false);
  routed = true;
}

/** For an SCU: routes to `logger` if given, else silences the library unless a server routed it already. */
export function quietDcmjsDimseLog(logger?: Logger): void {
  if (logger) routeDcmjsDimseLog(logger);
  else if (!routed) dimseLibraryLog.setLevel('silent', false);
}

/** Makes A-ASSOCIATE-RQ/AC carry mipseg's Implementation Class UID and Version Name. */
export function announceMipsegImplementation(): void {
  Implementation.setImplementationClassUid(MIPSEG_IMPLEMENTATION_CLASS_UID);
  Implementation.setImplementationVersion(MIPSEG_IMPLEMENTATION_VERSION_NAME);
}
