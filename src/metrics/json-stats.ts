/**
 * `GET /stats` (and `GET /metrics` asked for JSON): connections, users, channels and message
 * counts in the shape monitoring scripts written for other Pusher servers read. Built per request
 * from the adapter's queries; nothing here runs on the hot path.
 */
import { channelKind } from '../../protocol/names.js';
import type { Adapter } from '../adapter/adapter.js';
import type { AppMessages, Stats } from './stats.js';

/** Channels read per index page: bounds one slice of the event loop on a node with many channels. */
const STATS_PAGE = 4096;

/** Prometheus never asks for JSON; `curl -H 'Accept: application/json' …/metrics` does. */
export const wantsJson = (accept: string | undefined): boolean => /\bapplication\/json\b/i.test(accept ?? '');

export interface AppStatsJson {
  connections: { active: number; total_unique_users: number };
  channels: { occupied: number; presence: number };
  /** Frames from clients, frames to clients (a fan-out counts each subscriber), client events; this node's. */
  messages: { received: number; sent: number; client_events: number };
}

export interface StatsJson extends AppStatsJson {
  apps: Record<string, AppStatsJson>;
}

export interface StatsSources {
  stats: Stats;
  adapter: Adapter;
  appIds: readonly string[];
}

/**
 * Unique users are the distinct ids signed in (`pusher:signin`) or present in a presence channel,
 * both from the adapter, so they span the cluster in Redis mode; `connections.active` and the
 * message counts are this node's. Channels are read page by page from the
 * channel index (`#server-to-user-*` channels are not listed there, so not counted as occupied).
 */
export async function statsJson({ stats, adapter, appIds }: StatsSources): Promise<StatsJson> {
  const apps: Record<string, AppStatsJson> = {};
  const total: Omit<AppStatsJson, 'messages'> = { connections: { active: 0, total_unique_users: 0 }, channels: { occupied: 0, presence: 0 } };
  for (const appId of appIds) {
    const app = await appStats(adapter, appId, stats.messagesOf(appId));
    apps[appId] = app;
    total.connections.active += app.connections.active;
    // Users of different apps are different users.
    total.connections.total_unique_users += app.connections.total_unique_users;
    total.channels.occupied += app.channels.occupied;
    total.channels.presence += app.channels.presence;
  }
  return {
    ...total,
    messages: { received: stats.wsMessagesIn, sent: stats.wsMessagesOut, client_events: stats.clientEvents },
    apps,
  };
}

async function appStats(adapter: Adapter, appId: string, messages: AppMessages): Promise<AppStatsJson> {
  const users = new Set(await adapter.signedInUsers(appId));
  const presence: string[] = [];
  let occupied = 0;
  let after: string | undefined;
  do {
    const page = await adapter.channels(appId, { prefix: '', after, limit: STATS_PAGE });
    occupied += page.names.length;
    for (const name of page.names) if (channelKind(name).type === 'presence') presence.push(name);
    after = page.next;
  } while (after !== undefined);
  for (const ids of await Promise.all(presence.map((name) => adapter.users(appId, name)))) for (const id of ids) users.add(id);
  return {
    connections: { active: adapter.connectionCount(appId), total_unique_users: users.size },
    channels: { occupied, presence: presence.length },
    messages: { received: messages.received, sent: messages.sent, client_events: messages.clientEvents },
  };
}
