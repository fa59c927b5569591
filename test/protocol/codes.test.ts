import { describe, it, expect } from 'vitest';
import { ErrorCode, ErrorMessage, parseProtocolVersion } from '../../protocol/codes.js';

describe('ErrorCode / ErrorMessage', () => {
  it('uses the documented numbers (section 3.1)', () => {
    expect(ErrorCode).toEqual({
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
    });
  });

  it.each([
    [4000, 'Application only accepts SSL connections, reconnect using wss://'],
    [4001, 'Application does not exist'],
    [4003, 'Application disabled'],
    [4004, 'Application is over connection quota'],
    [4005, 'Path not found'],
    [4006, 'Invalid version string format'],
    [4007, 'Unsupported protocol version'],
    [4008, 'No protocol version supplied'],
    [4009, 'Connection is unauthorized'],
    [4100, 'Over capacity'],
    [4200, 'Generic reconnect immediately'],
    [4201, 'Pong reply not received'],
    [4202, 'Closed after inactivity'],
    [4301, 'Client event rejected due to rate limit'],
    [4302, 'Watchlist limit exceeded. Only the first 100 user IDs are accepted.'],
  ])('%i → %s', (code, message) => {
    expect(ErrorMessage[code]).toBe(message);
  });

  it('has a message for every code', () => {
    for (const code of Object.values(ErrorCode)) expect(ErrorMessage[code]).toBeTypeOf('string');
  });
});

describe('parseProtocolVersion', () => {
  it.each([
    [undefined, 7],
    ['', 7],
    ['4', 4],
    ['5', 5],
    ['6', 6],
    ['7', 7],
    ['1', null],
    ['2', null],
    ['3', null],
    ['8', null],
    ['x', null],
    ['7.0', null],
    ['-7', null],
    [' 7', null],
    ['7a', null],
  ])('%j → %j', (raw, expected) => {
    expect(parseProtocolVersion(raw)).toBe(expected);
  });
});
