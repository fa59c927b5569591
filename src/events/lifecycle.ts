/**
 * What happened to channels, members and users, for integrations (webhooks, connection hooks,
 * metrics) that must not be called from the middle of the protocol code.
 *
 * Events are emitted once per cluster: by the node whose state change caused them (the local
 * adapter is its own cluster; a shared adapter reports `occupied`/`memberAdded`/... only to the
 * node whose atomic update made the change).
 */
export type LifecycleEvent =
  | { type: 'channel_occupied'; appId: string; channel: string }
  | { type: 'channel_vacated'; appId: string; channel: string }
  | { type: 'member_added'; appId: string; channel: string; userId: string }
  | { type: 'member_removed'; appId: string; channel: string; userId: string }
  | {
      type: 'client_event';
      appId: string;
      channel: string;
      event: string;
      /** The event's data as the client sent it (webhooks carry it as a JSON string). */
      data: unknown;
      socketId: string;
      /** On presence channels, the sender's member id. */
      userId?: string;
    }
  | { type: 'cache_miss'; appId: string; channel: string }
  | { type: 'subscription_count'; appId: string; channel: string; count: number }
  /** A signed-in user's first connection anywhere. */
  | { type: 'user_connected'; appId: string; userId: string; socketId: string }
  /** A signed-in user's last connection anywhere closed. */
  | { type: 'user_disconnected'; appId: string; userId: string; socketId: string }
  /** A `/api/broadcast` call that reached at least one connection. */
  | { type: 'message_delivered'; appId: string; channel: string; event: string; recipients: number };

export type LifecycleType = LifecycleEvent['type'];
export type LifecycleListener = (event: LifecycleEvent) => void;

export class Lifecycle {
  private listeners: LifecycleListener[] = [];

  /** False while nothing listens: callers skip building events on hot paths (client events). */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  on(listener: LifecycleListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** A listener that throws is the listener's bug: it must not cost the frame that caused the event. */
  emit(event: LifecycleEvent, onError?: (err: unknown) => void): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        onError?.(err);
      }
    }
  }
}
