/** The handshake headers of a GET on the WebSocket route, '' when absent. */
export interface UpgradeHeaders {
  upgrade: string;
  connection: string;
  version: string;
  key: string;
}

/** What a plain HTTP client is told instead of `101 Switching Protocols`. */
export interface UpgradeRefusal {
  status: 400 | 426;
  error: string;
  headers?: Record<string, string>;
}

const UPGRADE_REQUIRED = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13' };
// 16 bytes in base64: 22 characters of the alphabet, then the padding of the last, partial group.
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

const hasToken = (list: string, token: string) => list.split(',').some((part) => part.trim().toLowerCase() === token);

/**
 * Why this GET is not a WebSocket handshake (RFC 6455 section 4.2.1), undefined when it is one.
 * Operators check a deployment with curl: the answer names the header to fix.
 */
export function upgradeRefusal(h: UpgradeHeaders): UpgradeRefusal | undefined {
  if (!hasToken(h.upgrade, 'websocket')) {
    return {
      status: 426,
      error: 'This is the WebSocket endpoint: connect with a WebSocket client (the request needs "Upgrade: websocket")',
      headers: UPGRADE_REQUIRED,
    };
  }
  if (!hasToken(h.connection, 'upgrade')) return { status: 400, error: 'WebSocket handshake: the Connection header must include "Upgrade"' };
  if (h.version === '') return { status: 426, error: 'WebSocket handshake: missing Sec-WebSocket-Version (must be 13)', headers: UPGRADE_REQUIRED };
  if (h.version.trim() !== '13') {
    return { status: 426, error: `WebSocket handshake: unsupported Sec-WebSocket-Version ${JSON.stringify(h.version)} (must be 13)`, headers: UPGRADE_REQUIRED };
  }
  if (h.key === '') return { status: 400, error: 'WebSocket handshake: missing Sec-WebSocket-Key' };
  if (!KEY.test(h.key.trim())) {
    return {
      status: 400,
      error: `WebSocket handshake: invalid Sec-WebSocket-Key ${JSON.stringify(h.key.slice(0, 40))} (must be 16 random bytes in base64, 24 characters)`,
    };
  }
  return undefined;
}
