import type { ChannelType } from '../../protocol/names.js';

/** One app's message counts (`/stats`); whoever bumps them keeps the record, so a bump is a field increment. */
export interface AppMessages {
  received: number;
  sent: number;
  clientEvents: number;
}

/**
 * Plain counters bumped on the hot path (a field increment, nothing else); the Prometheus
 * collectors read them only when scraped.
 */
export class Stats {
  connectionsOpened = 0;
  connectionsClosed = 0;
  wsMessagesIn = 0;
  wsBytesIn = 0;
  /** Frames handed to uWS (a fan-out publish counts once per delivered subscriber). */
  wsMessagesOut = 0;
  wsBytesOut = 0;
  clientEvents = 0;
  /** Cluster mode: 1 while the Redis command connection is ready. */
  redisConnected = 0;
  redisReconnects = 0;
  /** Cross-node messages lost to a Redis outage (queue overflow or a publish in flight). */
  redisDropped = 0;
  /** Other nodes this node found silent past `redisNodeTimeout` and reaped. */
  redisNodesDeclaredDead = 0;
  /** Socket.IO clients closed with more than `maxBackpressure` bytes waiting in Engine.IO's write buffer. */
  socketIoOverflows = 0;
  readonly subscriptions = new Map<ChannelType, number>();
  /** Pusher error code (or 'null') → frames sent. */
  readonly errors = new Map<string, number>();
  /** `${endpoint} ${status}` → calls. */
  readonly httpCalls = new Map<string, number>();
  webhookEventsSent = 0;
  webhookRetries = 0;
  /** Reason (`queue_full`, `expired`) → webhook events dropped. */
  readonly webhookEventsDropped = new Map<string, number>();
  ingestReceived = 0;
  ingestDelivered = 0;
  /** Reason (`not_json`, `invalid_channel`, …) → Redis messages dropped. */
  readonly ingestDropped = new Map<string, number>();
  /** App id → its message counts. */
  readonly messagesByApp = new Map<string, AppMessages>();

  subscribed(type: ChannelType): void {
    this.subscriptions.set(type, (this.subscriptions.get(type) ?? 0) + 1);
  }

  error(code: number | null): void {
    const key = String(code);
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  httpCall(endpoint: string, status: number): void {
    const key = `${endpoint} ${status}`;
    this.httpCalls.set(key, (this.httpCalls.get(key) ?? 0) + 1);
  }

  webhookDropped(reason: 'queue_full' | 'expired', events: number): void {
    this.webhookEventsDropped.set(reason, (this.webhookEventsDropped.get(reason) ?? 0) + events);
  }

  /** The app's message counts, created on first use (a connection takes its app's once, when it opens). */
  messagesOf(appId: string): AppMessages {
    let messages = this.messagesByApp.get(appId);
    if (!messages) this.messagesByApp.set(appId, (messages = { received: 0, sent: 0, clientEvents: 0 }));
    return messages;
  }

  sent(frame: string, app: AppMessages, recipients = 1): void {
    this.wsMessagesOut += recipients;
    this.wsBytesOut += frame.length * recipients;
    app.sent += recipients;
  }
}
