/**
 * Every Redis key and pub/sub channel of one app starts with `{prefix}{appId}:` — the app id in a
 * hash tag, so one app's keys share a Redis Cluster slot and each script touches one slot; the
 * bus channel maps onto sharded pub/sub the same way.
 *
 * Totals (what queries read) sit beside each node's own part of them, so a dead node's part can be
 * subtracted and a reconnected node's part rewritten without double counting:
 * - `channels`: channel → subscriptions on every node; `node:{id}:channels` this node's;
 *   `channels:names` the occupied names as a sorted set, for paging (NAMES in scripts.ts).
 * - `members:{channel}`: presence user → connections; `info:{channel}`: user → user_info JSON;
 *   `node:{id}:members`: `{channel}\n{user}` → this node's connections.
 * - `users`: signed-in user → connections; `node:{id}:users` this node's.
 * - `connections`: node id → connections (their sum is the app's count).
 * - `nodes`: sorted set of node ids by last heartbeat (ms, Redis clock); `dead:{id}` a tombstone.
 * - `seq`: the number of the app's last presence member event (see JOIN in scripts.ts).
 * - `cache:{channel}`: a cache channel's last event, expiring with its TTL.
 * - `leave:{key}`: a webhook leave some node holds back (`Adapter.markLeave`), expiring.
 */
export class ClusterKeys {
  constructor(private readonly prefix: string) {}

  /** The part every key of the app starts with (scripts build per-channel keys from it). */
  base(appId: string): string {
    return `${this.prefix}{${appId}}:`;
  }

  channels = (appId: string) => this.base(appId) + 'channels';
  members = (appId: string, channel: string) => this.base(appId) + 'members:' + channel;
  info = (appId: string, channel: string) => this.base(appId) + 'info:' + channel;
  users = (appId: string) => this.base(appId) + 'users';
  connections = (appId: string) => this.base(appId) + 'connections';
  nodes = (appId: string) => this.base(appId) + 'nodes';
  seq = (appId: string) => this.base(appId) + 'seq';
  cache = (appId: string, channel: string) => this.base(appId) + 'cache:' + channel;
  leave = (appId: string, key: string) => this.base(appId) + 'leave:' + key;
  bus = (appId: string) => this.base(appId) + 'bus';
  dead = (appId: string, node: string) => this.base(appId) + 'dead:' + node;
  nodeChannels = (appId: string, node: string) => this.base(appId) + `node:${node}:channels`;
  nodeMembers = (appId: string, node: string) => this.base(appId) + `node:${node}:members`;
  nodeUsers = (appId: string, node: string) => this.base(appId) + `node:${node}:users`;
}
