/**
 * Issue #11 in the Redis cluster mode of #9: three Herald nodes on one redis-server, each with the
 * same webhook URL and the same ingest rules. Every webhook event must reach the (real) receiver
 * once per cluster, not once per node, every ingested PUBLISH must reach each subscriber once,
 * although every node is subscribed to it, and `/stats` counts unique users cluster-wide.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pusherWebhookEvents } from '../../src/config/schema.js';
import { listen, recorder, sleep, subscribed, until, type Pusher, type Recorder } from '../helpers/clients.js';
import { closeClients, eventually, joinAs, pusherOn, rawOn, startClusterAuth, tearDown } from '../helpers/cluster-clients.js';
import { CLUSTER_APP, startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { TEST_APP } from '../helpers/herald.js';
import { phpJsonEncode, type LaravelAuth } from '../helpers/laravel-auth.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Leaves wait this long (production: 3 s); the tests wait well past it before counting. */
const LEAVE_DELAY_MS = 300;

let redis: TestRedis;
let cluster: Cluster;
let auth: LaravelAuth;
let receiver: WebhookReceiver;
let n0: ClusterNode, n1: ClusterNode, n2: ClusterNode;

beforeAll(async () => {
  redis = await startRedis();
  receiver = await startWebhookReceiver(CLUSTER_APP);
  cluster = await startCluster(redis, {
    apps: [
      {
        ...TEST_APP,
        webhooks: [{ url: `${receiver.url}/hook`, events: [...pusherWebhookEvents, 'user_connected', 'user_disconnected'] }],
        redisIngest: [{ pattern: 'user_noti:{user_id}', channel: '#server-to-user-{user_id}', event: 'type', data: 'payload' }],
      },
    ],
    env: {
      HERALD_WEBHOOK_BATCH_MS: '10',
      HERALD_WEBHOOK_LEAVE_DELAY_MS: String(LEAVE_DELAY_MS),
      HERALD_WEBHOOK_BACKOFF_MS: '50',
      HERALD_REDIS_INGEST: 'laravel',
    },
  });
  [n0, n1, n2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  auth = await startClusterAuth();
  for (const node of cluster.nodes) await until(() => node.output().includes('Redis ingest subscribed'), `node ${node.index} ingest subscribed`, 10_000);
}, 90_000);

afterEach(() => closeClients(n0));
afterAll(async () => {
  await tearDown({ cluster, auth, redis });
  await receiver?.close();
});

type Hook = Record<string, unknown>;

/** Every event the receiver accepted so far that concerns `subject` (a channel or a user id). */
function hooksAbout(subject: string): string[] {
  return receiver
    .events()
    .filter((e: Hook) => e.channel === subject || (e.channel === undefined && e.user_id === subject))
    .map((e: Hook) => [e.name, e.user_id].filter((x) => x !== undefined && x !== subject).join(' '));
}

/**
 * Waits until `subject`'s events are `expected`, then past the leave delay and a batch, and checks
 * nothing more came. Sorted: nodes send in parallel, so only one node's own events keep their order.
 */
async function expectHooks(subject: string, expected: string[]): Promise<void> {
  await until(() => hooksAbout(subject).length >= expected.length, `${expected.length} webhook events about ${subject} (got ${JSON.stringify(hooksAbout(subject))})`, 10_000);
  await sleep(LEAVE_DELAY_MS + 400);
  expect(hooksAbout(subject).sort()).toEqual([...expected].sort());
}

async function signedIn(node: ClusterNode, who: string): Promise<Pusher> {
  const { pusher } = await pusherOn(node, auth, who);
  pusher.signin();
  await until(() => pusher.user.serverToUserChannel?.subscribed, `${who} signed in on node ${node.index}`, 5000);
  return pusher;
}

describe('webhooks in a cluster: each event sent once, by one node', () => {
  it('presence joins on two nodes: one channel_occupied, one member_added per user; the last leave anywhere: one member_removed each, one channel_vacated', async () => {
    const channel = 'presence-hooks-1';
    const a = await joinAs(n0, channel, 'u1');
    const b = await joinAs(n1, channel, 'u2');
    // u1 a second time, on a third node: no new member_added.
    const a2 = await joinAs(n2, channel, 'u1');
    await expectHooks(channel, ['channel_occupied', 'member_added u1', 'member_added u2']);

    // u1 leaves node 0 but is still on node 2: nothing; u2 leaves: member_removed u2 once.
    a.client.close();
    b.client.close();
    await expectHooks(channel, ['channel_occupied', 'member_added u1', 'member_added u2', 'member_removed u2']);
    a2.client.close();
    await expectHooks(channel, ['channel_occupied', 'member_added u1', 'member_added u2', 'member_removed u2', 'member_removed u1', 'channel_vacated']);
    expect(receiver.requests.every((r) => r.valid && r.path === '/hook')).toBe(true);
  });

  it('a public channel occupied from all three nodes and vacated on one: one channel_occupied, one channel_vacated', async () => {
    const channel = 'hooks-news';
    const clients = [];
    for (const node of [n0, n1, n2, n1]) {
      const { client } = await rawOn(node);
      client.subscribe(channel);
      await client.next('pusher_internal:subscription_succeeded', 5000);
      clients.push(client);
    }
    await expectHooks(channel, ['channel_occupied']);
    for (const c of clients) c.close();
    await expectHooks(channel, ['channel_occupied', 'channel_vacated']);
  });

  it('a page reload that lands on another node within the leave delay sends neither the leave nor the re-join', async () => {
    const channel = 'presence-reload';
    const first = await joinAs(n0, channel, 'u3');
    await expectHooks(channel, ['channel_occupied', 'member_added u3']);
    first.client.close();
    await sleep(50);
    const again = await joinAs(n1, channel, 'u3');
    await expectHooks(channel, ['channel_occupied', 'member_added u3']);
    // The reload's leave was cancelled, not lost: the real leave later is sent, once.
    again.client.close();
    await expectHooks(channel, ['channel_occupied', 'member_added u3', 'member_removed u3', 'channel_vacated']);
  });

  it('a user on two nodes: one user_connected, and user_disconnected only after the second connection closes', async () => {
    const first = await signedIn(n0, 'u7');
    const second = await signedIn(n2, 'u7');
    await expectHooks('u7', ['user_connected']);
    first.disconnect();
    await expectHooks('u7', ['user_connected']);
    second.disconnect();
    await expectHooks('u7', ['user_connected', 'user_disconnected']);
  });
});

describe('Redis ingest in a cluster: every node subscribes, each message is delivered once', () => {
  it("Laravel's redis broadcaster: subscribers on every node get each event exactly once, the excluded socket none", async () => {
    const got: Recorder[] = [];
    const clients: { pusher: Pusher; socketId: string }[] = [];
    for (const node of [n0, n1, n2, n0, n1, n2]) {
      const c = await pusherOn(node, auth);
      clients.push(c);
      got.push(listen(await subscribed(c.pusher, 'ingest-feed'), 'App\\Events\\Tick'));
    }
    const sender = clients[4]!.socketId; // on node 1
    for (let i = 0; i < 10; i++) {
      const socket = i === 9 ? sender : null;
      // RedisBroadcaster::broadcast() (reference 8.4): `socket` inside `data` too.
      await redis.command('PUBLISH', 'laravel_database_ingest-feed', phpJsonEncode({ event: 'App\\Events\\Tick', data: { i, socket }, socket }));
    }
    for (const [k, r] of got.entries()) await until(() => r.calls.length >= (k === 4 ? 9 : 10), `subscriber ${k} got every event`, 10_000);
    await sleep(300);
    const expected = Array.from({ length: 10 }, (_, i) => ({ i, socket: i === 9 ? sender : null }));
    for (const [k, r] of got.entries()) expect(r.calls, `subscriber ${k}`).toEqual(k === 4 ? expected.slice(0, 9) : expected);
  });

  it('PUBLISH user_noti:{id} reaches the user signed in on two nodes once per connection, and nobody else', async () => {
    const mine = [await signedIn(n0, 'u9'), await signedIn(n2, 'u9')];
    const other = await signedIn(n1, 'u10');
    const got = mine.map((p, i) => {
      const r = recorder(`u9 connection ${i}`);
      p.user.bind('notification', r.fn);
      return r;
    });
    const stranger = recorder('u10');
    other.user.bind('notification', stranger.fn);
    for (let n = 1; n <= 3; n++) {
      // Every node's ingest connection receives it: three subscribers of the pattern.
      expect(await redis.command('PUBLISH', 'user_noti:u9', JSON.stringify({ type: 'notification', payload: { n } }))).toBe(3);
    }
    for (const r of got) await until(() => r.calls.length >= 3, 'three notifications', 10_000);
    await sleep(300);
    for (const r of got) expect(r.calls).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(stranger.calls).toEqual([]);
  });
});

describe('/stats in a cluster', () => {
  it('total_unique_users counts signed-in and presence users on every node, each once; connections.active is the node\'s own', async () => {
    await signedIn(n0, 'u11');
    await signedIn(n1, 'u12');
    await signedIn(n2, 'u11');
    await joinAs(n2, 'presence-stats', 'u13');
    await joinAs(n1, 'presence-stats', 'u12');
    const stats = async (node: ClusterNode) => {
      const res = await fetch(`http://127.0.0.1:${node.metricsPort}/stats`);
      return ((await res.json()) as { apps: Record<string, { connections: { active: number; total_unique_users: number } }> }).apps[CLUSTER_APP.appId]!.connections;
    };
    for (const [node, active] of [[n0, 1], [n1, 2], [n2, 2]] as const) {
      await eventually(() => stats(node), { active, total_unique_users: 3 });
    }
  });
});
