import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Stats } from '../metrics/stats.js';
import type { ClusterKeys } from './keys.js';
import type { RedisLink } from './redis-link.js';
import { DEAD } from './scripts.js';

/** A tombstone outlives any freeze a node could wake up from. */
const TOMBSTONE_MS = 24 * 3600_000;

const EMPTY_PART = JSON.stringify({ connections: 0, channels: [], members: [], users: [], occupied: [] });

const newNodeId = () => randomBytes(8).toString('hex');

/** What the membership needs from the adapter it serves. */
export interface MembershipHost {
  /** This node's part of the app's state, as REPLACE takes it (JSON). */
  part(appId: string): string;
  /** Whether joins of the app are on their way to Redis (not yet in `part`). */
  joining(appId: string): boolean;
  /**
   * What a replaced part changed, told once to the cluster: what it left behind (`removed` is
   * `[channel, user, member-event seq, …]`) and, on a rewrite, the channels it occupied first.
   */
  departed(appId: string, removed: string[], vacated: string[], offline: string[], occupied: string[]): void;
  /** Runs right after the rewrite is sent on a reconnect, before anything newer (queued messages). */
  rewriteSent(): void;
  /** This node was declared dead and now goes by `node`: its current connections must go. */
  rejoined(oldNode: string, node: string): void;
}

/**
 * This node's place in the cluster: its id (one per boot, and a new one after being declared
 * dead), its heartbeat, the reaping of silent nodes, and the rewrite of its part on each connect.
 *
 * - Nodes beat every `nodeTimeout / 3`; a node silent for `nodeTimeout` is reaped by whichever node
 *   sees it first, in one atomic script that re-checks the beat, so its departures are told once.
 * - After Redis comes back every heartbeat in it is as old as the outage: no reaping for one node
 *   timeout after a (re)connect, so live nodes rewrite their part before any is declared dead.
 * - A node that finds it was declared dead (frozen past the timeout) never writes under its old
 *   id again (a tombstone refuses it): the host closes its clients, and it continues as a new id.
 */
export class NodeMembership {
  private id = newNodeId();
  private heartbeat: NodeJS.Timeout | undefined;
  private reapAfter = 0;
  /** Apps whose shard of a Redis Cluster was lost or failed a beat: rewritten on their next good beat. */
  private readonly unsettled = new Set<string>();

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly appIds: readonly string[],
    private readonly options: { nodeTimeout: number; stats: Stats; logger: Logger },
    private readonly host: MembershipHost,
  ) {}

  get node(): string {
    return this.id;
  }

  start(): void {
    this.heartbeat = setInterval(() => this.beat(), Math.max(50, (this.options.nodeTimeout * 1000) / 3));
  }

  /** First thing on every `ready`: this node's part, rewritten app by app. */
  rewrite(): void {
    this.reapAfter = Date.now() + this.options.nodeTimeout * 1000;
    this.unsettled.clear();
    const node = this.id;
    const writes = this.appIds.map((appId) => this.replace(appId, node, 'rewrite', this.host.part(appId)));
    this.host.rewriteSent();
    Promise.all(writes).then(
      (done) => done.includes(false) && this.declaredDead(node),
      (err: unknown) => this.options.logger.warn({ err }, 'redis rewrite failed; retried on the next reconnect'),
    );
  }

  /**
   * A Redis Cluster shard went away (failing over to a replica that may lack the last writes, or
   * back after a restart): every app is rewritten once its shard answers a beat again, and no node
   * is reaped before the others could beat and rewrite too.
   */
  shardLost(): void {
    for (const appId of this.appIds) this.unsettled.add(appId);
  }

  /**
   * A script refused a write under `asNode`: this node was declared dead while it could not beat.
   * Several calls may report the same death; only the first, for the id still in use, acts.
   */
  declaredDead(asNode: string): void {
    if (asNode !== this.id) return;
    const old = this.id;
    this.id = newNodeId();
    this.host.rejoined(old, this.id);
    for (const appId of this.appIds) this.replace(appId, this.id, 'rewrite', EMPTY_PART).catch(() => {});
  }

  /** Graceful stop: beats no more and removes what is left of this node's part at once. */
  async withdraw(): Promise<void> {
    clearInterval(this.heartbeat);
    if (!this.link.isReady) return;
    const node = this.id;
    await Promise.all(this.appIds.map((appId) => this.replace(appId, node, 'withdraw')));
  }

  /** Heartbeat, and reaping of nodes whose heartbeat is older than `nodeTimeout`. */
  private beat(): void {
    if (!this.link.isReady) return;
    const node = this.id;
    const timeoutMs = this.options.nodeTimeout * 1000;
    for (const appId of this.appIds) {
      this.link.cmd
        .heartbeat(this.keys.nodes(appId), this.keys.dead(appId, node), node, timeoutMs)
        .then(async (reply) => {
          const [status, expired] = reply as [number, string[]];
          if (status === DEAD) return this.declaredDead(node);
          if (this.unsettled.delete(appId)) this.resettle(appId, node);
          if (Date.now() < this.reapAfter) return;
          for (const dead of expired) {
            if (dead !== this.id && (await this.replace(appId, dead, 'reap'))) {
              this.options.stats.redisNodesDeclaredDead++;
              this.options.logger.warn({ app: appId, node: dead }, 'node declared dead: its connections, members and counts removed');
            }
          }
        })
        .catch((err: unknown) => {
          // Redis answers but this app's shard did not: it is failing over, rewrite once it is back.
          if (this.link.isReady) this.unsettled.add(appId);
          this.options.logger.debug({ err }, 'heartbeat failed');
        });
    }
  }

  /**
   * Rewrites one app's part after its shard came back; as after a reconnect, reaping waits a node
   * timeout. Unlike after a reconnect, other commands are in flight: a join Redis ran just before
   * the rewrite but whose answer has not come back yet would be subtracted with the old part and
   * missing from `part()` (it is attached on the answer), so the rewrite waits for a beat with no
   * join on its way.
   */
  private resettle(appId: string, node: string): void {
    this.reapAfter = Date.now() + this.options.nodeTimeout * 1000;
    if (this.host.joining(appId)) {
      this.unsettled.add(appId);
      return;
    }
    this.options.logger.info({ app: appId }, 'redis shard back: rewriting this node’s part of the app');
    this.replace(appId, node, 'rewrite', this.host.part(appId)).then(
      (done) => done || this.declaredDead(node),
      () => this.unsettled.add(appId),
    );
  }

  /** Runs REPLACE for one app and hands over what it removed. False when nothing was done. */
  private async replace(appId: string, node: string, mode: 'rewrite' | 'reap' | 'withdraw', part = ''): Promise<boolean> {
    const k = this.keys;
    const gone = (await this.link.cmd.replace(
      k.channels(appId),
      k.nodeChannels(appId, node),
      k.users(appId),
      k.nodeUsers(appId, node),
      k.connections(appId),
      k.nodeMembers(appId, node),
      k.nodes(appId),
      k.dead(appId, node),
      node,
      mode,
      k.base(appId),
      this.options.nodeTimeout * 1000,
      part,
      TOMBSTONE_MS,
    )) as [string[], string[], string[], string[]] | null;
    if (!gone) return false;
    this.host.departed(appId, ...gone);
    return true;
  }
}
