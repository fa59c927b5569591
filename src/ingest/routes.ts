/**
 * What a Redis message means: which app, channel, event and data it becomes, or why it is dropped.
 * Pure functions of the config and the message, so every malformed input is unit-testable.
 */
import { channelNameError, eventNameError, isValidSocketId } from '../../protocol/names.js';
import type { AppConfig, RedisIngestRule } from '../config/schema.js';

export interface Delivery {
  app: AppConfig;
  channel: string;
  event: string;
  /** The event's data, serialized once. */
  data: string;
  exceptSocketId?: string;
}

export type DropReason = 'not_json' | 'missing_fields' | 'invalid_channel' | 'invalid_event' | 'too_large';
export const DROP_REASONS: readonly DropReason[] = ['not_json', 'missing_fields', 'invalid_channel', 'invalid_event', 'too_large'];

export type Parsed = { ok: true; delivery: Delivery } | { ok: false; reason: DropReason; detail: string };

export interface IngestRoute {
  /** The glob given to PSUBSCRIBE. */
  glob: string;
  /** The delivery for a message on a channel the glob matched; undefined when the channel is not this route's. */
  parse(redisChannel: string, message: string): Parsed | undefined;
}

const drop = (reason: DropReason, detail: string): Parsed => ({ ok: false, reason, detail });

/** Redis glob metacharacters are escaped so that a literal prefix matches only itself. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');
const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Laravel's RedisBroadcaster (reference 8.4): `{prefix}{channel}` carrying
 * `{"event": "...", "data": {...}, "socket": "123.456" | null}`. `data` is relayed as Laravel sent
 * it (it still holds the `socket` key, as laravel-echo-server relays it too).
 */
export function laravelRoute(app: AppConfig, prefix: string): IngestRoute {
  return {
    glob: `${globEscape(prefix)}*`,
    parse(redisChannel, message) {
      if (!redisChannel.startsWith(prefix)) return undefined;
      const payload = parseObject(message);
      if (!payload) return drop('not_json', 'not a JSON object');
      if (!('event' in payload) || !('data' in payload)) return drop('missing_fields', 'needs "event" and "data"');
      return deliver(app, redisChannel.slice(prefix.length), payload.event, payload.data, payload.socket);
    },
  };
}

/** A mapped pattern: `user_noti:{user_id}` → `#server-to-user-{user_id}`, event and data from JSON fields. */
export function patternRoute(app: AppConfig, rule: RedisIngestRule): IngestRoute {
  const names: string[] = [];
  let glob = '';
  let regex = '^';
  for (const part of rule.pattern.split(/(\{[A-Za-z0-9_]+\})/)) {
    const placeholder = /^\{([A-Za-z0-9_]+)\}$/.exec(part);
    if (placeholder) {
      names.push(placeholder[1]!);
      glob += '*';
      regex += '(.+?)';
    } else {
      glob += globEscape(part);
      regex += regexEscape(part);
    }
  }
  const matcher = new RegExp(`${regex}$`, 's');
  return {
    glob,
    parse(redisChannel, message) {
      const match = matcher.exec(redisChannel);
      if (!match) return undefined;
      const values = new Map(names.map((name, i) => [name, match[i + 1]!]));
      const channel = rule.channel.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => values.get(name) ?? '');
      const payload = parseObject(message);
      if (!payload) return drop('not_json', 'not a JSON object');
      if (rule.data !== undefined && !(rule.data in payload)) return drop('missing_fields', `no "${rule.data}" field`);
      const event = rule.event in payload ? payload[rule.event] : rule.defaultEvent;
      const data = rule.data === undefined ? payload : payload[rule.data];
      return deliver(app, channel, event, data, rule.socket === undefined ? undefined : payload[rule.socket]);
    },
  };
}

function parseObject(message: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(message);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The same limits as a REST trigger: names, and data size against the app's limit. */
function deliver(app: AppConfig, channel: string, event: unknown, data: unknown, socket: unknown): Parsed {
  const channelError = channelNameError(channel, app.maxChannelNameLength);
  if (channelError) return drop('invalid_channel', `${channelError}: ${JSON.stringify(channel.slice(0, 200))}`);
  const eventError = eventNameError(event, app.maxEventNameLength);
  if (eventError) return drop('invalid_event', eventError);
  if (data === undefined || data === null) return drop('missing_fields', 'no data');
  const serialized = typeof data === 'string' ? data : JSON.stringify(data);
  const size = Buffer.byteLength(serialized, 'utf8');
  if (size > app.maxEventDataSize) return drop('too_large', `data is ${size} bytes, the limit is ${app.maxEventDataSize}`);
  return {
    ok: true,
    delivery: { app, channel, event: event as string, data: serialized, exceptSocketId: isValidSocketId(socket) ? socket : undefined },
  };
}
