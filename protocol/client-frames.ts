import { z } from 'zod';
import { isClientEventName } from './names.js';
import { check, checkJson, type Checked } from './validate.js';

export type ClientFrame =
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'subscribe'; channel: string; auth?: string; channelData?: string }
  | { kind: 'unsubscribe'; channel: string }
  | { kind: 'signin'; auth: string; userData: string }
  | ClientEventFrame;

export interface ClientEventFrame {
  kind: 'client-event';
  event: string;
  channel: string;
  data: unknown;
  /** The frame exactly as received. */
  text: string;
  /** The frame has no members but event, channel and data, so `text` can be relayed as it is. */
  envelopeOnly: boolean;
}

export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: number | null; message: string };

const str = () => z.string({ error: 'must be a string' });
const obj = <S extends z.ZodRawShape>(shape: S) => z.object(shape, { error: 'must be an object' });

const SubscribeData = obj({ channel: str(), auth: str().optional(), channel_data: str().optional() });
const UnsubscribeData = obj({ channel: str() });
const SigninData = obj({ auth: str(), user_data: str() });

// Shared immutable results: ping/pong and rejections are frequent and carry no per-frame state.
const PING: ParseResult = Object.freeze({ ok: true, frame: Object.freeze({ kind: 'ping' }) });
const PONG: ParseResult = Object.freeze({ ok: true, frame: Object.freeze({ kind: 'pong' }) });
const INVALID_FORMAT: ParseResult = Object.freeze({ ok: false, code: null, message: 'Invalid message format' });
const UNSUPPORTED: ParseResult = Object.freeze({ ok: false, code: null, message: 'Unsupported event' });

/**
 * Structural parse only. Channel-name syntax, sizes and permissions depend on
 * per-app config, so the server checks those afterwards.
 */
export function parseClientFrame(text: string): ParseResult {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return INVALID_FORMAT;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return INVALID_FORMAT;
  const { event, data, channel } = message as Record<string, unknown>;
  if (typeof event !== 'string') return INVALID_FORMAT;

  switch (event) {
    case 'pusher:ping':
      return PING;
    case 'pusher:pong':
      return PONG;
    case 'pusher:subscribe':
      return toResult(payload(SubscribeData, data, event), (d) => ({
        kind: 'subscribe',
        channel: d.channel,
        auth: d.auth,
        channelData: d.channel_data,
      }));
    case 'pusher:unsubscribe':
      return toResult(payload(UnsubscribeData, data, event), (d) => ({ kind: 'unsubscribe', channel: d.channel }));
    case 'pusher:signin':
      return toResult(payload(SigninData, data, event), (d) => ({
        kind: 'signin',
        auth: d.auth,
        userData: d.user_data,
      }));
  }

  if (!isClientEventName(event)) return UNSUPPORTED;
  if (typeof channel !== 'string') return { ok: false, code: null, message: 'Client event requires a channel' };
  // pusher-js always sends data; a missing member is relayed as JSON null.
  const value = data === undefined ? null : data;
  const envelopeOnly = data !== undefined && memberCount(message) === 3;
  return { ok: true, frame: { kind: 'client-event', event, channel, data: value, text, envelopeOnly } };
}

/** `Object.keys(o).length` without the array: this runs once per relayed client event. */
function memberCount(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

/** Old protocol drafts send `data` as a JSON string holding the object (section 1.6). */
function payload<T>(schema: z.ZodType<T>, data: unknown, event: string): Checked<T> {
  const label = `${event} data`;
  return typeof data === 'string' ? checkJson(schema, data, label) : check(schema, data, label);
}

function toResult<T>(checked: Checked<T>, build: (value: T) => ClientFrame): ParseResult {
  return checked.ok ? { ok: true, frame: build(checked.value) } : { ok: false, code: null, message: checked.message };
}
