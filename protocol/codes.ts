export const ErrorCode = {
  SslOnly: 4000,
  AppNotFound: 4001,
  AppDisabled: 4003,
  OverQuota: 4004,
  PathNotFound: 4005,
  InvalidVersion: 4006,
  UnsupportedProtocol: 4007,
  NoProtocol: 4008,
  Unauthorized: 4009,
  OverCapacity: 4100,
  Reconnect: 4200,
  PongTimeout: 4201,
  InactivityClosed: 4202,
  ClientEventRateLimit: 4301,
  WatchlistLimit: 4302,
} as const;

export const ErrorMessage: Record<number, string> = {
  [ErrorCode.SslOnly]: 'Application only accepts SSL connections, reconnect using wss://',
  [ErrorCode.AppNotFound]: 'Application does not exist',
  [ErrorCode.AppDisabled]: 'Application disabled',
  [ErrorCode.OverQuota]: 'Application is over connection quota',
  [ErrorCode.PathNotFound]: 'Path not found',
  [ErrorCode.InvalidVersion]: 'Invalid version string format',
  [ErrorCode.UnsupportedProtocol]: 'Unsupported protocol version',
  [ErrorCode.NoProtocol]: 'No protocol version supplied',
  [ErrorCode.Unauthorized]: 'Connection is unauthorized',
  [ErrorCode.OverCapacity]: 'Over capacity',
  [ErrorCode.Reconnect]: 'Generic reconnect immediately',
  [ErrorCode.PongTimeout]: 'Pong reply not received',
  [ErrorCode.InactivityClosed]: 'Closed after inactivity',
  [ErrorCode.ClientEventRateLimit]: 'Client event rejected due to rate limit',
  [ErrorCode.WatchlistLimit]: 'Watchlist limit exceeded. Only the first 100 user IDs are accepted.',
};

const MIN_PROTOCOL = 4;
const MAX_PROTOCOL = 7;

/**
 * Versions 4..7 behave identically for us. A missing `protocol` is treated as
 * current (7) rather than 4008 because some older clients omit it (section 1.1).
 * Returns null when the caller should refuse with 4007.
 */
export function parseProtocolVersion(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return MAX_PROTOCOL;
  if (!/^\d+$/.test(raw)) return null;
  const version = Number(raw);
  return version >= MIN_PROTOCOL && version <= MAX_PROTOCOL ? version : null;
}
