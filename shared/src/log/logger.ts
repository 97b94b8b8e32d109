import pino, { type Logger } from 'pino';

export type { Logger };

/** One structured (JSON) logger per process; services take child loggers named after themselves. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino({ level, base: { service: 'mipseg' } }, destination) : pino({ level, base: { service: 'mipseg' } });
}
