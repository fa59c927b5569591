/**
 * Issue #9, "Redis outage": Redis stops under traffic (then comes back with its data, or empty).
 * No node exits, clients stay connected, delivery on each node keeps working, cross-node messages
 * are dropped or held in a bounded queue, queries that need Redis answer 503 JSON, a presence
 * subscribe gets subscription_error 503 after a bounded wait; when Redis returns, cross-node
 * delivery resumes within 5 s and the counts are rewritten, with member events only for real changes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connected, listen, recorder, sleep, subscribed, until, type Pusher, type Recorder } from '../helpers/clients.js';
import { closeClients, eventually, memberEvents, memberIds, pusherOn, rawOn, sendJoin, sendPrivate, startClusterAuth, subscriptionAnswer, tearDown } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import type { LaravelAuth } from '../helpers/laravel-auth.js';
import type { RawClient } from '../helpers/raw-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const NODE_TIMEOUT = 1.5;
const PRESENCE_TIMEOUT = 1;
const QUEUE_SIZE = 8;

let redis: TestRedis;
let cluster: Cluster;
let auth: LaravelAuth;
let nodes: ClusterNode[];

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster(redis, { nodeTimeout: NODE_TIMEOUT, presenceTimeout: PRESENCE_TIMEOUT, env: { HERALD_REDIS_QUEUE_SIZE: String(QUEUE_SIZE) } });
  nodes = cluster.nodes;
  auth = await startClusterAuth();
}, 90_000);

afterEach(async () => {
  if (!redis.running) await redis.start();
  // The next test counts connections from zero.
  await closeClients(nodes[0]!);
});

afterAll(() => tearDown({ cluster, auth, redis }));

async function everyNode(metric: string, value: number, timeoutMs = 5000): Promise<void> {
  for (const node of nodes) await eventually(() => node.metric(metric), value, timeoutMs);
}

interface Scene {
  feeds: { node: ClusterNode; pusher: Pusher; ticks: Recorder<{ seq: number }>; probes: Recorder<{ k: number }> }[];
  observer: RawClient;
  members: RawClient[];
  /** Every client that must still be connected at the end. */
  raw: RawClient[];
  pushers: Pusher[];
}

/** A pusher-js on `outage-feed` on every node, and presence members observer (node 0), u1 (node 1), u2 (node 2). */
async function scene(presence: string): Promise<Scene> {
  const feeds = [];
  for (const node of nodes) {
    const { pusher } = await pusherOn(node, auth);
    const channel = await subscribed(pusher, 'outage-feed');
    feeds.push({ node, pusher, ticks: listen(channel, 'tick') as Recorder<{ seq: number }>, probes: listen(channel, 'probe') as Recorder<{ k: number }> });
  }
  const joined: RawClient[] = [];
  for (const [node, user] of [[nodes[0]!, 'observer'], [nodes[1]!, 'u1'], [nodes[2]!, 'u2']] as const) {
    const { client, socketId } = await rawOn(node);
    sendJoin(client, socketId, presence, user);
    expect((await subscriptionAnswer(client, presence)).event).toBe('pusher_internal:subscription_succeeded');
    joined.push(client);
  }
  await until(() => memberEvents(joined[0]!, presence, 'member_added').length === 2, 'observer to see u1 and u2', 5000);
  return { feeds, observer: joined[0]!, members: joined, raw: [...joined], pushers: feeds.map((f) => f.pusher) };
}

/** Triggers `tick` {seq} on node 0 every 40 ms until stopped; returns the seqs sent so far. */
function traffic(node: ClusterNode): { sent: () => number; stop: () => Promise<void> } {
  let seq = 0;
  let running = true;
  const sdk = node.sdk();
  const loop = (async () => {
    while (running) {
      await sdk.trigger('outage-feed', 'tick', { seq: seq++ }).catch(() => undefined);
      await sleep(40);
    }
  })();
  return {
    sent: () => seq,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Every raw client answers a ping, every pusher-js is still connected. */
async function allConnected(s: Scene): Promise<void> {
  for (const client of s.raw) {
    expect(client.closeCode).toBeUndefined();
    client.send({ event: 'pusher:ping', data: {} });
    await client.next('pusher:pong');
  }
  for (const pusher of s.pushers) expect(pusher.connection.state).toBe('connected');
}

/** Probes from node 0 until subscribers on every other node get one; returns the ms it took. */
async function crossNodeResumes(s: Scene, since: number): Promise<number> {
  const sdk = nodes[0]!.sdk();
  for (let k = 0; ; k++) {
    await sdk.trigger('outage-feed', 'probe', { k }).catch(() => undefined);
    if (s.feeds.every((f) => f.probes.calls.length > 0)) return Date.now() - since;
    if (Date.now() - since > 15_000) throw new Error(`cross-node delivery did not resume: probes seen ${JSON.stringify(s.feeds.map((f) => f.probes.calls.length))}`);
    await sleep(100);
  }
}

async function outageChecks(s: Scene, presence: string): Promise<void> {
  await everyNode('herald_redis_connected', 0);

  // Delivery on the same node keeps working.
  for (const [i, feed] of s.feeds.entries()) {
    const local = listen(feed.pusher.channel('outage-feed'), 'local');
    await feed.node.sdk().trigger('outage-feed', 'local', { node: i });
    expect(await local.next(3000)).toEqual({ node: i });
  }

  // Public and private subscribes are confirmed; presence waits, then 503.
  const late = await pusherOn(nodes[2]!, auth);
  s.pushers.push(late.pusher);
  await subscribed(late.pusher, 'outage-feed');
  const priv = await rawOn(nodes[1]!);
  s.raw.push(priv.client);
  sendPrivate(priv.client, priv.socketId, 'private-outage');
  expect((await subscriptionAnswer(priv.client, 'private-outage')).event).toBe('pusher_internal:subscription_succeeded');

  const joiner = await rawOn(nodes[1]!);
  s.raw.push(joiner.client);
  sendJoin(joiner.client, joiner.socketId, presence, 'u3');
  const refused = await joiner.client.next('pusher:subscription_error', PRESENCE_TIMEOUT * 1000 + 4000);
  expect(refused).toEqual({ event: 'pusher:subscription_error', channel: presence, data: expect.objectContaining({ status: 503 }) });
  expect(joiner.client.frames.some((f) => f.event === 'pusher_internal:subscription_succeeded')).toBe(false);

  const echoUser = await pusherOn(nodes[0]!, auth, 'u4');
  s.pushers.push(echoUser.pusher);
  const failed = recorder<{ status: number }>('presence subscription_error');
  echoUser.pusher.subscribe(presence).bind('pusher:subscription_error', failed.fn);
  expect(await failed.next(PRESENCE_TIMEOUT * 1000 + 4000)).toMatchObject({ status: 503 });

  // Queries that need Redis: 503 with a JSON body, on every node.
  for (const node of nodes) {
    for (const [path, params] of [
      ['/channels', {}],
      ['/channels', { filter_by_prefix: 'presence-', info: 'user_count' }],
      [`/channels/${presence}`, { info: 'user_count' }],
      [`/channels/${presence}/users`, {}],
      ['/connections', {}],
    ] as const) {
      const answer = await node.get(path, params);
      expect(answer.status, `${path} on node ${node.index}`).toBe(503);
      expect(typeof answer.body, `${path} body ${JSON.stringify(answer.body)}`).toBe('object');
    }
  }
  await allConnected(s);
}

/** After Redis is back: the counts every node answers match the clients that are really there. */
async function countsRight(s: Scene, presence: string, feedSubscribers: number): Promise<void> {
  const open = s.raw.filter((c) => c.closeCode === undefined).length + s.pushers.filter((p) => p.connection.state === 'connected').length;
  for (const node of nodes) {
    await eventually(() => node.get('/connections'), { status: 200, body: { connections: open } });
    await eventually(() => node.get('/channels/outage-feed', { info: 'subscription_count' }), { status: 200, body: { occupied: true, subscription_count: feedSubscribers } });
    await eventually(async () => ((await node.get(`/channels/${presence}/users`)).body as { users?: { id: string }[] }).users?.map((u) => u.id).sort(), ['observer', 'u1', 'u2']);
    await eventually(() => node.get(`/channels/${presence}`, { info: 'user_count' }), { status: 200, body: { occupied: true, user_count: 3 } });
    await eventually(() => node.get('/channels/private-outage'), { status: 200, body: { occupied: true } });
  }
}

describe('Redis outage', () => {
  it('stopped under traffic and restarted with its data: nodes stay up, local delivery goes on, 503s, then everything resumes within 5 s', async () => {
    const presence = 'presence-outage-a';
    const s = await scene(presence);
    const load = traffic(nodes[0]!);
    await until(() => s.feeds.every((f) => f.ticks.calls.length >= 3), 'ticks everywhere before the outage', 5000);

    await redis.stop({ keepData: true });
    await everyNode('herald_redis_connected', 0);
    const outageFrom = load.sent();
    await outageChecks(s, presence);
    // Longer than the node deadline: no node may declare the others dead for Redis's silence.
    await sleep(NODE_TIMEOUT * 1000 + 500);
    for (const node of nodes) expect(node.alive, `node ${node.index} alive`).toBe(true);
    const outageTo = load.sent();

    await redis.start();
    const back = Date.now();
    const resumedMs = await crossNodeResumes(s, back);
    expect(resumedMs).toBeLessThan(5000);
    await load.stop();
    await everyNode('herald_redis_connected', 1);
    for (const node of nodes) expect(await node.metric('herald_redis_reconnects_total'), `reconnects on node ${node.index}`).toBeGreaterThanOrEqual(1);

    // Node 0's own subscriber saw every tick in order; the others never got one twice, and at most
    // a bounded queue's worth of the ones sent while Redis was away.
    const last = load.sent();
    await until(() => s.feeds[0]!.ticks.calls.length >= last, 'node 0 subscriber to get every tick', 5000);
    expect(s.feeds[0]!.ticks.calls.map((t) => t.seq)).toEqual(Array.from({ length: last }, (_, i) => i));
    for (const feed of s.feeds.slice(1)) {
      const seqs = feed.ticks.calls.map((t) => t.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.filter((q) => q >= outageFrom && q < outageTo).length).toBeLessThanOrEqual(QUEUE_SIZE);
    }
    expect(outageTo - outageFrom).toBeGreaterThan(QUEUE_SIZE);
    const dropped = (await Promise.all(nodes.map((n) => n.metric('herald_redis_dropped_messages_total')))).reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThanOrEqual(1);

    await countsRight(s, presence, 4);
    await allConnected(s);
    // Nobody left or joined for real: the observer saw no member event after u1 and u2 joined.
    expect(memberEvents(s.observer, presence, 'member_removed')).toEqual([]);
    expect(memberEvents(s.observer, presence, 'member_added')).toEqual(['u1', 'u2']);
  }, 60_000);

  it('restarted empty: every node rewrites its part, presence lists are whole again, no member event for anyone', async () => {
    const presence = 'presence-outage-b';
    const s = await scene(presence);
    await redis.command('SET', 'written-before-the-kill', '1');
    await redis.kill();
    await everyNode('herald_redis_connected', 0);
    await outageChecks(s, presence);
    for (const node of nodes) expect(node.alive).toBe(true);

    await redis.start();
    // Empty when it came back (the nodes may have rewritten their parts already).
    expect(await redis.command('EXISTS', 'written-before-the-kill')).toBe(0);
    const resumedMs = await crossNodeResumes(s, Date.now());
    expect(resumedMs).toBeLessThan(5000);
    await countsRight(s, presence, 4);
    // A newcomer after the restart sees members joined on every node before it.
    const { client, socketId } = await rawOn(nodes[2]!);
    sendJoin(client, socketId, presence, 'u5');
    expect(memberIds(await subscriptionAnswer(client, presence))).toEqual(['observer', 'u1', 'u2', 'u5']);
    await until(() => memberEvents(s.observer, presence, 'member_added').includes('u5'), 'member_added u5', 5000);
    expect(memberEvents(s.observer, presence, 'member_removed')).toEqual([]);
    expect(memberEvents(s.observer, presence, 'member_added')).toEqual(['u1', 'u2', 'u5']);
    await allConnected(s);
    expect(await connected(s.pushers[0]!)).toMatch(/^\d+\.\d+$/);
  }, 60_000);
});
