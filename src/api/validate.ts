import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { channelKind, channelNameError, eventNameError, isValidSocketId } from '../../protocol/names.js';
import type { AppConfig } from '../config/schema.js';

/** A refused request body: always 400 or 413, answered as `{"error":…}`. */
export interface Refusal {
  ok: false;
  status: 400 | 413;
  error: string;
}

export type Valid<T> = { ok: true; value: T } | Refusal;

const refuse = (error: string, status: 400 | 413 = 400): Refusal => ({ ok: false, status, error });

/** One event ready to publish: every field checked, `data` already the string subscribers get. */
export interface EventToPublish {
  name: string;
  /** Unique channel names, request order. */
  channels: string[];
  data: string;
  socketId: string | undefined;
  /** Requested `info` attributes. */
  info: ReadonlySet<InfoAttribute>;
}

export type InfoAttribute = 'user_count' | 'subscription_count' | 'cache';

export const TRIGGER_INFO: readonly InfoAttribute[] = ['user_count', 'subscription_count'];
export const CHANNELS_INFO: readonly InfoAttribute[] = ['user_count', 'subscription_count'];
export const CHANNEL_INFO: readonly InfoAttribute[] = ['user_count', 'subscription_count', 'cache'];

// ---- JSON body and query ------------------------------------------------------------------

/** Deeper than any real payload; JSON.parse's cost per byte climbs with depth, so the cap bounds it. */
export const MAX_JSON_DEPTH = 1000;

/**
 * The body as a JSON object. An empty body is `{}` (parameters may come from the query string
 * instead, section 6.1). Not UTF-8 → 400: decoding would swap bad bytes for U+FFFD, and
 * subscribers would get an event nobody sent.
 */
export function parseJsonObject(body: Buffer): Valid<Record<string, unknown>> {
  if (body.length === 0) return { ok: true, value: {} };
  if (!isUtf8(body)) return refuse('Request body is not valid UTF-8');
  // Nesting past the cap takes an opening and a closing byte per level: a shorter body is either
  // shallow enough or not JSON at all, and JSON.parse refuses it in one linear pass.
  if (body.length > 2 * MAX_JSON_DEPTH && openers(body) > MAX_JSON_DEPTH && nestedDeeperThan(body, MAX_JSON_DEPTH)) {
    return refuse(`JSON in request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse('Invalid JSON in request body');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return refuse('Request body must be a JSON object');
  }
  return { ok: true, value: parsed as Record<string, unknown> };
}

/** '[' and '{' bytes, counted natively: a body with few of them cannot nest deep, and is not scanned. */
function openers(body: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(0x7b); i !== -1 && n <= MAX_JSON_DEPTH; i = body.indexOf(0x7b, i + 1)) n++;
  for (let i = body.indexOf(0x5b); i !== -1 && n <= MAX_JSON_DEPTH; i = body.indexOf(0x5b, i + 1)) n++;
  return n;
}

/** One pass over the bytes, skipping strings: whether arrays/objects nest deeper than `max`. */
function nestedDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

const TRIGGER_QUERY_FIELDS = ['name', 'data', 'channel', 'channels', 'socket_id', 'info'] as const;

/**
 * Trigger fields given in the signed query string (`channels[]=a&channels[]=b` or
 * `channels=a,b`, section 6.1), from the same parse the signature was checked on. An array
 * param stays an array (no value of one holds ','), so `name[]=x` is refused as not a string.
 */
export function triggerQueryFields(params: Record<string, string>, arrays: ReadonlySet<string> | undefined): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null);
  for (const key of TRIGGER_QUERY_FIELDS) {
    const value = params[key];
    if (value === undefined) continue;
    fields[key] = key === 'channels' || (key !== 'info' && arrays?.has(key)) ? value.split(',') : value;
  }
  return fields;
}

/** Body wins field by field; a body naming its channel(s) in either form overrides both query forms. */
export function mergeTriggerQuery(
  body: Record<string, unknown>,
  params: Record<string, string>,
  arrays: ReadonlySet<string> | undefined,
): Record<string, unknown> {
  const query = triggerQueryFields(params, arrays);
  // Almost every call carries only auth_* and body_md5: nothing to merge.
  let any = false;
  for (const _ in query) {
    any = true;
    break;
  }
  if (!any) return body;
  if (body.channel !== undefined || body.channels !== undefined) {
    delete query.channel;
    delete query.channels;
  }
  return { ...query, ...body };
}

// ---- shapes (zod) ---------------------------------------------------------------------------

type IssueInput = { input?: unknown };
const typed = (field: string, expected: string) => ({
  error: (issue: IssueInput) => (issue.input === undefined ? `Missing ${field}` : `${field} must be ${expected}`),
});
const requiredString = (field: string) => z.string(typed(field, 'a string'));
const optionalString = (field: string) => z.string(typed(field, 'a string')).nullish();
const channelList = z
  .array(z.string({ error: 'channels must be an array of strings' }), { error: 'channels must be an array of strings' })
  .nullish();

const TriggerShape = z.object({
  name: requiredString('name'),
  data: z.unknown().optional(),
  channel: optionalString('channel'),
  channels: channelList,
  socket_id: optionalString('socket_id'),
  info: optionalString('info'),
});

const BatchItemShape = z.object(
  {
    name: requiredString('name'),
    data: z.unknown().optional(),
    channel: requiredString('channel'),
    socket_id: optionalString('socket_id'),
    info: optionalString('info'),
  },
  { error: 'must be a JSON object' },
);

const BatchShape = z.object({ batch: z.array(z.unknown(), typed('batch', 'an array')) });

const BroadcastShape = z.object({
  channel: requiredString('channel'),
  event: requiredString('event'),
  data: z.unknown().optional(),
  socket_id: optionalString('socket_id'),
  timestamp: z.unknown().optional(),
});

function shaped<T>(schema: z.ZodType<T>, input: unknown): Valid<T> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return refuse(result.error.issues[0]?.message ?? 'Invalid request body');
}

// ---- field rules ----------------------------------------------------------------------------

/** Names quoted in messages are cut short: the body may be large. */
const quote = (s: string) => JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);

export function checkChannelName(name: string, app: AppConfig): Refusal | undefined {
  const error = channelNameError(name, app.maxChannelNameLength);
  return error === null ? undefined : refuse(`${error}: ${quote(name)}`);
}

export function checkEventName(name: string, app: AppConfig): Refusal | undefined {
  const error = eventNameError(name, app.maxEventNameLength);
  return error === null ? undefined : refuse(error);
}

const NO_SOCKET_ID: Valid<undefined> = Object.freeze({ ok: true, value: undefined });

function checkSocketId(socketId: string | null | undefined): Valid<string | undefined> {
  if (socketId === undefined || socketId === null) return NO_SOCKET_ID;
  return isValidSocketId(socketId) ? { ok: true, value: socketId } : refuse(`Invalid socket_id: ${quote(socketId)}`);
}

/**
 * `data` as subscribers receive it: a string verbatim, any other JSON value JSON.stringify'd
 * (section 6.1 CHOICE). Over the app's limit in UTF-8 bytes → 413.
 */
export function eventData(data: unknown, app: AppConfig): Valid<string> {
  if (data === undefined) return refuse('Missing data');
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long data needs counting.
  if (text.length * 3 <= app.maxEventDataSize) return { ok: true, value: text };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > app.maxEventDataSize) {
    return refuse(`Event data too large: ${bytes} bytes (max ${app.maxEventDataSize})`, 413);
  }
  return { ok: true, value: text };
}

const NO_INFO: Valid<ReadonlySet<InfoAttribute>> = Object.freeze({ ok: true, value: new Set<InfoAttribute>() });

/** Comma-separated `info`; anything outside `allowed` → 400. */
export function parseInfo(raw: string | null | undefined, allowed: readonly InfoAttribute[]): Valid<ReadonlySet<InfoAttribute>> {
  if (raw === undefined || raw === null || raw === '') return NO_INFO;
  const attrs = new Set<InfoAttribute>();
  for (const part of raw.split(',')) {
    const attr = part.trim();
    if (attr === '') continue;
    if (!(allowed as readonly string[]).includes(attr)) return refuse(`Unsupported info attribute: ${quote(attr)}`);
    attrs.add(attr as InfoAttribute);
  }
  return { ok: true, value: attrs };
}

interface EventFields {
  name: string;
  data?: unknown;
  socket_id?: string | null | undefined;
  info?: string | null | undefined;
}

/** The rules shared by `/events` and every `/batch_events` item; 400s first, then the 413 on data. */
function checkEvent(fields: EventFields, requested: string[], app: AppConfig): Valid<EventToPublish> {
  const badName = checkEventName(fields.name, app);
  if (badName) return badName;
  if (requested.length === 0) return refuse('Missing channel or channels');
  if (requested.length > app.maxChannelsPerTrigger) {
    return refuse(`Too many channels: ${requested.length} (max ${app.maxChannelsPerTrigger})`);
  }
  for (const channel of requested) {
    const bad = checkChannelName(channel, app);
    if (bad) return bad;
  }
  const channels = requested.length === 1 ? requested : [...new Set(requested)];
  if (channels.length > 1 && channels.some((c) => channelKind(c).type === 'encrypted')) {
    return refuse('Encrypted channels cannot be triggered to together with other channels');
  }
  const socketId = checkSocketId(fields.socket_id);
  if (!socketId.ok) return socketId;
  const info = parseInfo(fields.info, TRIGGER_INFO);
  if (!info.ok) return info;
  const data = eventData(fields.data, app);
  if (!data.ok) return data;
  return { ok: true, value: { name: fields.name, channels, data: data.value, socketId: socketId.value, info: info.value } };
}

// ---- request bodies -------------------------------------------------------------------------

/** `POST /events` (section 6.1): `input` is the body merged with any query fields. */
export function validateTrigger(input: Record<string, unknown>, app: AppConfig): Valid<EventToPublish> {
  let v = triggerShape(input);
  if (v === undefined) {
    const shape = shaped(TriggerShape, input);
    if (!shape.ok) return shape;
    v = shape.value;
  }
  // Reverb's rule: `channels` when given, else the single `channel`.
  const channels = v.channels ?? (v.channel === undefined || v.channel === null ? [] : [v.channel]);
  return checkEvent(v, channels, app);
}

/**
 * `TriggerShape`'s parse when `input` fits it, checked by hand, else undefined: zod costs more
 * than every other check of a trigger together, so it only runs to word a refusal. Keys the
 * shape does not name are ignored, as zod strips them.
 */
function triggerShape(input: Record<string, unknown>): z.output<typeof TriggerShape> | undefined {
  const { name, channel, channels, socket_id, info } = input;
  if (typeof name !== 'string' || !nullishOrString(channel) || !nullishOrString(socket_id) || !nullishOrString(info)) {
    return undefined;
  }
  if (channels !== undefined && channels !== null) {
    if (!Array.isArray(channels)) return undefined;
    for (const c of channels) if (typeof c !== 'string') return undefined;
  }
  return input as z.output<typeof TriggerShape>;
}

const nullishOrString = (value: unknown): boolean => value === undefined || value === null || typeof value === 'string';

/** `POST /batch_events` (section 6.2): every item valid or nothing is published. */
export function validateBatch(input: Record<string, unknown>, app: AppConfig): Valid<EventToPublish[]> {
  let items = input.batch;
  if (!Array.isArray(items)) {
    const shape = shaped(BatchShape, input);
    if (!shape.ok) return shape;
    items = shape.value.batch;
  }
  const list = items as unknown[];
  if (list.length > app.maxBatchSize) return refuse(`Too many events in batch: ${list.length} (max ${app.maxBatchSize})`);
  const events: EventToPublish[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = batchItemShape(list[i]) ?? shaped(BatchItemShape, list[i]);
    const checked = item.ok ? checkEvent(item.value, [item.value.channel], app) : item;
    if (!checked.ok) return { ...checked, error: `batch[${i}]: ${checked.error}` };
    events[i] = checked.value;
  }
  return { ok: true, value: events };
}

/** `BatchItemShape`'s parse checked by hand, as `triggerShape` does: zod only words refusals. */
function batchItemShape(item: unknown): Valid<z.output<typeof BatchItemShape>> | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const { name, channel, socket_id, info } = item as Record<string, unknown>;
  if (typeof name !== 'string' || typeof channel !== 'string' || !nullishOrString(socket_id) || !nullishOrString(info)) return undefined;
  return { ok: true, value: item as z.output<typeof BatchItemShape> };
}

export interface BroadcastRequest {
  channel: string;
  event: string;
  data: string;
  socketId: string | undefined;
}

/** `POST /api/broadcast`: `{"channel","event","data","timestamp"?,"socket_id"?}`. */
export function validateBroadcast(input: Record<string, unknown>, app: AppConfig): Valid<BroadcastRequest> {
  const shape = shaped(BroadcastShape, input);
  if (!shape.ok) return shape;
  const v = shape.value;
  const badChannel = checkChannelName(v.channel, app);
  if (badChannel) return badChannel;
  const badName = checkEventName(v.event, app);
  if (badName) return badName;
  const socketId = checkSocketId(v.socket_id);
  if (!socketId.ok) return socketId;
  const data = eventData(v.data, app);
  if (!data.ok) return data;
  return { ok: true, value: { channel: v.channel, event: v.event, data: data.value, socketId: socketId.value } };
}
