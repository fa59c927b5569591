import { webhookSignature } from './signing.js';

/**
 * Webhook event objects (section 7): user ids as strings, counts as numbers, client event data as
 * the JSON string the client's data serialises to. The last three are Herald's opt-in extras.
 */
export type WebhookEvent =
  | { name: 'channel_occupied' | 'channel_vacated' | 'cache_miss'; channel: string }
  | { name: 'member_added' | 'member_removed'; channel: string; user_id: string }
  | { name: 'client_event'; channel: string; event: string; data: string; socket_id: string; user_id?: string }
  | { name: 'subscription_count'; channel: string; subscription_count: number }
  | { name: 'user_connected' | 'user_disconnected'; user_id: string; socket_id: string }
  | { name: 'message_delivered'; channel: string; event: string; recipients: number };

/** `{"time_ms":…,"events":[…]}`, the exact bytes that are signed and sent. */
export function webhookBody(timeMs: number, events: readonly WebhookEvent[]): string {
  return JSON.stringify({ time_ms: timeMs, events });
}

/** The headers the official SDKs' validators check (the Node SDK insists on this exact Content-Type). */
export function webhookHeaders(key: string, secret: string, body: string): Record<string, string> {
  return { 'Content-Type': 'application/json', 'X-Pusher-Key': key, 'X-Pusher-Signature': webhookSignature(secret, body) };
}

/** `user_connected` → `user-connected`: what `{event}` in a webhook URL becomes. */
export function webhookPathName(name: WebhookEvent['name']): string {
  return name.replaceAll('_', '-');
}
