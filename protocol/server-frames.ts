// Serializers for every server → client frame. Whether `data` is a JSON object or
// a JSON-encoded string follows section 1.6 exactly; frames are assembled from
// JSON.stringify'd parts because several sit on the broadcast hot path.
import type { ClientEventFrame } from './client-frames.js';

const q = JSON.stringify;

/** `data` member holding `json` as a JSON-encoded string (the "double encoding"). */
const stringData = (json: string): string => ',"data":' + q(json) + '}';

export function connectionEstablished(socketId: string, activityTimeout: number): string {
  return (
    '{"event":"pusher:connection_established"' +
    stringData('{"socket_id":' + q(socketId) + ',"activity_timeout":' + activityTimeout + '}')
  );
}

export function errorFrame(code: number | null, message: string): string {
  return '{"event":"pusher:error","data":{"code":' + (code ?? 'null') + ',"message":' + q(message) + '}}';
}

const PONG = '{"event":"pusher:pong","data":"{}"}';
const PING = '{"event":"pusher:ping","data":"{}"}';

export function pongFrame(): string {
  return PONG;
}

export function pingFrame(): string {
  return PING;
}

export function subscriptionSucceeded(
  channel: string,
  presence?: { ids: string[]; hash: Record<string, unknown>; count: number },
): string {
  const head = '{"event":"pusher_internal:subscription_succeeded","channel":' + q(channel);
  if (!presence) return head + stringData('{}');
  return (
    head +
    stringData(
      '{"presence":{"ids":' + q(presence.ids) + ',"hash":' + hashJson(presence.hash) + ',"count":' + presence.count + '}}',
    )
  );
}

// JSON.stringify would silently drop members whose info is undefined, and pusher-js
// and Echo's here() read members from `hash`, so absent info must become null.
function hashJson(hash: Record<string, unknown>): string {
  let out = '{';
  for (const id in hash) {
    if (out.length > 1) out += ',';
    out += q(id) + ':' + (q(hash[id]) ?? 'null');
  }
  return out + '}';
}

export function subscriptionError(channel: string, status: number, error: string): string {
  return (
    '{"event":"pusher:subscription_error","channel":' +
    q(channel) +
    ',"data":{"type":"AuthError","error":' +
    q(error) +
    ',"status":' +
    status +
    '}}'
  );
}

export function memberAdded(channel: string, userId: string, userInfo: unknown | undefined): string {
  const info = userInfo === undefined ? '' : ',"user_info":' + q(userInfo);
  return (
    '{"event":"pusher_internal:member_added","channel":' +
    q(channel) +
    stringData('{"user_id":' + q(userId) + info + '}')
  );
}

export function memberRemoved(channel: string, userId: string): string {
  return '{"event":"pusher_internal:member_removed","channel":' + q(channel) + stringData('{"user_id":' + q(userId) + '}');
}

/**
 * An event whose `data` is a string, as the server publishes them (REST, broadcast, ingest, the
 * cache): one `JSON.stringify` of a literal gives the frame with `data` JSON-encoded, as one flat
 * string. Splicing parts would leave a chain of pieces that the transport copies again when it
 * sends, and the garbage of a published event is what drives the young generation's collections.
 */
export function serverEvent(event: string, channel: string, data: string): string {
  return JSON.stringify({ event, channel, data });
}

/**
 * `dataJson` is spliced in unchanged so REST strings and relayed client payloads
 * reach subscribers byte-for-byte as the publisher produced them.
 */
export function channelEvent(event: string, channel: string, dataJson: string, userId?: string): string {
  const frame = '{"event":' + q(event) + ',"channel":' + q(channel) + ',"data":' + dataJson;
  return userId === undefined ? frame + '}' : frame + ',"user_id":' + q(userId) + '}';
}

/**
 * A client event as the other subscribers get it: data verbatim, `user_id` added on presence
 * channels. A frame of just event/channel/data is relayed as received, with no re-serialising;
 * anything else (extra members such as a spoofed `user_id`) is rebuilt from its parts.
 */
export function relayedClientEvent(frame: ClientEventFrame, userId?: string): string {
  if (!frame.envelopeOnly) return channelEvent(frame.event, frame.channel, JSON.stringify(frame.data), userId);
  if (userId === undefined) return frame.text;
  const end = frame.text.lastIndexOf('}');
  return frame.text.slice(0, end) + ',"user_id":' + q(userId) + frame.text.slice(end);
}

export function cacheMiss(channel: string): string {
  return '{"event":"pusher:cache_miss","channel":' + q(channel) + '}';
}

export function subscriptionCount(channel: string, count: number): string {
  return (
    '{"event":"pusher_internal:subscription_count","channel":' +
    q(channel) +
    stringData('{"subscription_count":' + count + '}')
  );
}

export function watchlistEvents(events: { name: 'online' | 'offline'; user_ids: string[] }[]): string {
  return '{"event":"pusher_internal:watchlist_events"' + stringData(q({ events }));
}

export function signinSuccess(userData: string): string {
  return '{"event":"pusher:signin_success","data":{"user_data":' + q(userData) + '}}';
}
