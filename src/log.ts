import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs. Any field that could carry a secret is censored wherever it appears. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wrenmail' },
      redact: {
        paths: [
          'password',
          'pass',
          'secret',
          'authorization',
          'key',
          '*.password',
          '*.pass',
          '*.secret',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination as never,
  );
}
