/**
 * Issue #9: presence is cluster-wide (one member list, member events once per user whichever node
 * the connections are on, even when two nodes add or remove the same user in the same moment) and
 * the per-app limits (maxPresenceMembers, maxConnections) hold for the cluster, not per node.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_APP } from '../helpers/herald.js';
import { sleep } from '../helpers/clients.js';
import { closeRaw, joinAs as join, memberEvents, memberIds, rawOn, sendJoin, subscriptionAnswer } from '../helpers/cluster-clients.js';
import { startCluster, type Cluster, type ClusterNode } from '../helpers/cluster.js';
import { RawClient } from '../helpers/raw-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const FULL = { id: 'full-app', key: 'full-key', secret: 'full-secret', maxPresenceMembers: 2 };
const CAPPED = { id: 'capped-app', key: 'capped-key', secret: 'capped-secret', maxConnections: 3 };

let redis: TestRedis;
let cluster: Cluster;
let n0: ClusterNode, n1: ClusterNode, n2: ClusterNode;

beforeAll(async () => {
  redis = await startRedis();
  cluster = await startCluster(redis, { apps: [TEST_APP, FULL, CAPPED] });
  [n0, n1, n2] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
}, 90_000);

afterEach(() => closeRaw());

afterAll(async () => {
  closeRaw();
  await cluster?.close();
  await redis?.close();
});


/** Waits until `client` has seen `count` member events of that kind on `channel`. */
async function seen(client: RawClient, channel: string, event: 'member_added' | 'member_removed', count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (memberEvents(client, channel, event).length < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ${event} on ${channel}; got ${JSON.stringify(memberEvents(client, channel, event))}`);
    await sleep(10);
  }
}

describe('cluster-wide presence', () => {
  it('subscription_succeeded lists every member; member_added once on the first connection anywhere, member_removed once after the last', async () => {
    const ch = 'presence-room';
    const a = await join(n0, ch, 'u1');
    expect(a.members).toEqual(['u1']);
    const b = await join(n1, ch, 'u2');
    expect(b.members).toEqual(['u1', 'u2']);
    const c = await join(n2, ch, 'u3');
    expect(c.members).toEqual(['u1', 'u2', 'u3']);
    await seen(a.client, ch, 'member_added', 2);
    await seen(b.client, ch, 'member_added', 1);

    // u1 again, on another node: listed once, no member_added anywhere.
    const again = await join(n2, ch, 'u1');
    expect(again.members).toEqual(['u1', 'u2', 'u3']);
    again.client.close();
    // u1 still has its node-0 connection: no member_removed either.
    await sleep(500);
    a.client.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
    await seen(b.client, ch, 'member_removed', 1);
    await seen(c.client, ch, 'member_removed', 1);
    await sleep(300);
    expect(memberEvents(a.client, ch, 'member_added')).toEqual(['u2', 'u3']);
    expect(memberEvents(b.client, ch, 'member_added')).toEqual(['u3']);
    expect(memberEvents(c.client, ch, 'member_added')).toEqual([]);
    expect(memberEvents(b.client, ch, 'member_removed')).toEqual(['u1']);
    expect(memberEvents(c.client, ch, 'member_removed')).toEqual(['u1']);
    expect(memberIds(b.client.frames.find((f) => f.event === 'pusher_internal:subscription_succeeded')!)).toEqual(['u1', 'u2']);
    const users = await n1.get(`/channels/${ch}/users`);
    expect((users.body as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual(['u2', 'u3']);
  });

  it('two nodes adding and removing the same user at the same moment: one member_added, one member_removed (30 rounds)', async () => {
    const ROUNDS = 30;
    const observer = await rawOn(n2);
    const left = await rawOn(n0);
    const right = await rawOn(n1);
    for (let round = 0; round < ROUNDS; round++) {
      const ch = `presence-race-${round}`;
      sendJoin(observer.client, observer.socketId, ch, 'observer');
      expect((await subscriptionAnswer(observer.client, ch)).event).toBe('pusher_internal:subscription_succeeded');
      // Both subscribes leave this process back to back: they reach the two nodes together.
      sendJoin(left.client, left.socketId, ch, 'racer');
      sendJoin(right.client, right.socketId, ch, 'racer');
      const answers = await Promise.all([subscriptionAnswer(left.client, ch), subscriptionAnswer(right.client, ch)]);
      for (const answer of answers) {
        expect(answer.event).toBe('pusher_internal:subscription_succeeded');
        expect(memberIds(answer)).toEqual(['observer', 'racer']);
      }
      await seen(observer.client, ch, 'member_added', 1);
      // Both leave at once too.
      left.client.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      right.client.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      await seen(observer.client, ch, 'member_removed', 1);
    }
    await sleep(500);
    for (let round = 0; round < ROUNDS; round++) {
      const ch = `presence-race-${round}`;
      expect([ch, memberEvents(observer.client, ch, 'member_added'), memberEvents(observer.client, ch, 'member_removed')]).toEqual([ch, ['racer'], ['racer']]);
    }
  }, 60_000);

  it('a member list and the member events after it agree when a join or leave on one node crosses a subscribe on another (40 rounds)', async () => {
    // The joining node announces the change only after Redis has it: a subscriber elsewhere may
    // read a list that already holds it and then receive the event (a second member_added).
    const mover = await rawOn(n0);
    const first = await rawOn(n1);
    const second = await rawOn(n2);
    const sdk = n0.sdk();
    const views: string[] = [];
    for (let round = 0; round < 40; round++) {
      const ch = `presence-cross-${round}`;
      sendJoin(mover.client, mover.socketId, ch, 'mover');
      sendJoin(first.client, first.socketId, ch, 'first');
      const [, listed] = await Promise.all([subscriptionAnswer(mover.client, ch), subscriptionAnswer(first.client, ch)]);
      expect(listed.event).toBe('pusher_internal:subscription_succeeded');
      mover.client.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      sendJoin(second.client, second.socketId, ch, 'second');
      const late = await subscriptionAnswer(second.client, ch);
      expect(late.event).toBe('pusher_internal:subscription_succeeded');
      // Node 0 made both changes: its later trigger reaches each client after their events.
      await sdk.trigger(ch, 'mark', {});
      for (const [client, answer] of [[first.client, listed], [second.client, late]] as const) {
        const deadline = Date.now() + 5000;
        while (!client.frames.some((f) => f.event === 'mark' && f.channel === ch)) {
          expect(Date.now(), `the mark on ${ch}`).toBeLessThan(deadline);
          await sleep(10);
        }
        const added = memberEvents(client, ch, 'member_added').filter((u) => u === 'mover').length;
        const removed = memberEvents(client, ch, 'member_removed').filter((u) => u === 'mover').length;
        const inList = memberIds(answer).includes('mover') ? 1 : 0;
        // Listed or added once, then removed once: never added while listed, never removed unseen.
        views.push(`${ch}: listed ${inList} added ${added} removed ${removed} ${JSON.stringify(client.frames.filter((f) => f.channel === ch))}`);
        expect(inList + added <= 1 && inList + added - removed === 0, views.at(-1)).toBe(true);
      }
    }
  }, 90_000);

  it('two connections of one user closing at the same moment on two nodes: one member_removed', async () => {
    for (let round = 0; round < 10; round++) {
      const ch = `presence-close-race-${round}`;
      const observer = await join(n0, ch, 'observer');
      const a = await join(n1, ch, 'closer');
      const b = await join(n2, ch, 'closer');
      await seen(observer.client, ch, 'member_added', 1);
      a.client.ws.terminate();
      b.client.ws.terminate();
      await seen(observer.client, ch, 'member_removed', 1);
      await sleep(200);
      expect(memberEvents(observer.client, ch, 'member_added')).toEqual(['closer']);
      expect(memberEvents(observer.client, ch, 'member_removed')).toEqual(['closer']);
    }
  }, 60_000);
});

describe('limits hold for the cluster', () => {
  it('maxPresenceMembers counts distinct users on every node', async () => {
    const ch = 'presence-full';
    await join(n0, ch, 'u1', FULL);
    const second = await join(n1, ch, 'u2', FULL);
    const { client, socketId } = await rawOn(n2, FULL.key);
    sendJoin(client, socketId, ch, 'u3', FULL.secret, FULL.key);
    const refused = await subscriptionAnswer(client, ch);
    expect(refused.event).toBe('pusher:error');
    expect((refused.data as { message: string }).message).toMatch(/full/i);
    await client.nothing(200, 'pusher_internal:subscription_succeeded');
    // An existing member joins again from a third node: allowed.
    await join(n2, ch, 'u1', FULL);
    // Once u2 leaves, there is room for u3.
    second.client.close();
    const deadline = Date.now() + 5000;
    for (;;) {
      const retry = await rawOn(n2, FULL.key);
      sendJoin(retry.client, retry.socketId, ch, 'u3', FULL.secret, FULL.key);
      const answer = await subscriptionAnswer(retry.client, ch);
      if (answer.event === 'pusher_internal:subscription_succeeded') {
        expect(memberIds(answer)).toEqual(['u1', 'u3']);
        break;
      }
      expect(Date.now(), 'room for u3 after u2 left').toBeLessThan(deadline);
      await sleep(100);
    }
  });

  const refusedOrOpen = (port: number) => RawClient.connect(port, `/app/${CAPPED.key}?protocol=7&client=js&version=8.6.0&flash=false`);

  it('maxConnections is enforced for the whole cluster: 4004 on every node once it is reached', async () => {
    const held = [];
    for (const node of [n0, n1, n2]) held.push(await rawOn(node, CAPPED.key));
    for (const node of [n1, n0]) {
      const client = await refusedOrOpen(node.port);
      const frame = await client.next();
      expect(frame).toEqual({ event: 'pusher:error', data: { code: 4004, message: expect.any(String) } });
      expect(await client.closed).toBe(4004);
    }
    held[0]!.client.close();
    const deadline = Date.now() + 5000;
    for (;;) {
      const client = await refusedOrOpen(n2.port);
      const frame = await client.next();
      if (frame.event === 'pusher:connection_established') {
        client.ws.terminate();
        break;
      }
      expect(Date.now(), 'a connection accepted after one closed').toBeLessThan(deadline);
      await sleep(100);
    }
  });
});
