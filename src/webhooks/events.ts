import type { WebhookEvent } from '../../protocol/webhooks.js';
import type { LifecycleEvent } from '../events/lifecycle.js';

/** The webhook object for a lifecycle event (reference section 7 for the Pusher types). */
export function webhookEvent(e: LifecycleEvent): WebhookEvent {
  switch (e.type) {
    case 'channel_occupied':
    case 'channel_vacated':
    case 'cache_miss':
      return { name: e.type, channel: e.channel };
    case 'member_added':
    case 'member_removed':
      return { name: e.type, channel: e.channel, user_id: e.userId };
    case 'client_event': {
      const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
      const base = { name: e.type, channel: e.channel, event: e.event, data, socket_id: e.socketId };
      return e.userId === undefined ? base : { ...base, user_id: e.userId };
    }
    case 'subscription_count':
      return { name: e.type, channel: e.channel, subscription_count: e.count };
    case 'user_connected':
    case 'user_disconnected':
      return { name: e.type, user_id: e.userId, socket_id: e.socketId };
    case 'message_delivered':
      return { name: e.type, channel: e.channel, event: e.event, recipients: e.recipients };
  }
}

/** The channel an event is about, for webhooks filtered by channel prefix/suffix. */
export function channelOf(e: LifecycleEvent): string | undefined {
  return 'channel' in e ? e.channel : undefined;
}
