import pino from 'pino';
import pretty from 'pino-pretty';
import type { HeraldConfig } from './config/schema.js';

export type Logger = pino.Logger;

/**
 * The process logger: pino JSON lines, or pino-pretty output (in-process, synchronous) when `logPretty`
 * is true, or is unset and stdout is a TTY. `destination` defaults to stdout.
 */
export function createLogger(
  config: Pick<HeraldConfig, 'logLevel' | 'logPretty'>,
  destination?: pino.DestinationStream,
): Logger {
  const usePretty = config.logPretty ?? process.stdout.isTTY === true;
  const options: pino.LoggerOptions = { level: config.logLevel };
  if (usePretty) {
    const stream = pretty({
      colorize: destination === undefined ? process.stdout.isTTY === true : false,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      ...(destination ? { destination } : {}),
    });
    return pino(options, stream);
  }
  return destination ? pino(options, destination) : pino(options);
}
