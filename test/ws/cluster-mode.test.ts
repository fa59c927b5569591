/**
 * One Herald in cluster mode (a real redis-server): what a client sees while its subscriptions are
 * confirmed by Redis, and while Redis is away. Several nodes: test/cluster and test/adapter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { connect, privateAuth, rest, until } from './helpers.js';

let redis: TestRedis;
let h: TestHerald;
let run = 0;

beforeAll(async () => {
  redis = await startRedis();
  h = await startHerald({
    server: { redisUrl: redis.url, redisPrefix: `ws${++run}:`, redisPresenceTimeout: 0.3, redisNodeTimeout: 3 },
    app: { maxPresenceMembers: 10 },
  });
});
afterAll(async () => {
  await h?.stop();
  await redis?.close();
});

const presenceData = (id: string) => JSON.stringify({ user_id: id, user_info: { name: id } });

describe('cluster mode, one node', () => {
  it('frames sent while a subscribe is being confirmed are handled afterwards, in order', async () => {
    const { client, socketId } = await connect(h);
    const data = presenceData('ada');
    client.send({ event: 'pusher:subscribe', data: { channel: 'order-a' } });
    client.send({ event: 'pusher:subscribe', data: { channel: 'presence-order', auth: privateAuth(h, socketId, 'presence-order', data), channel_data: data } });
    client.send({ event: 'pusher:unsubscribe', data: { channel: 'order-a' } });
    client.send({ event: 'pusher:subscribe', data: { channel: 'order-b' } });
    client.send({ event: 'pusher:ping', data: {} });
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const frame = await client.next();
      seen.push(`${frame.event} ${frame.channel ?? ''}`.trim());
    }
    expect(seen).toEqual([
      'pusher_internal:subscription_succeeded order-a',
      'pusher_internal:subscription_succeeded presence-order',
      'pusher_internal:subscription_succeeded order-b',
      'pusher:pong',
    ]);
    await until(async () => !(await h.herald.adapter.channelInfo(h.app.id, 'order-a')).occupied, 3000, 'order-a left');
    expect(await rest(h, 'GET', '/channels/presence-order/users')).toEqual({ status: 200, body: { users: [{ id: 'ada' }] } });
    client.close();
  });

  it('a connection that closes while its presence join is in flight leaves nothing behind', async () => {
    for (let i = 0; i < 10; i++) {
      const { client, socketId } = await connect(h);
      const data = presenceData(`gone-${i}`);
      client.send({ event: 'pusher:subscribe', data: { channel: 'presence-brief', auth: privateAuth(h, socketId, 'presence-brief', data), channel_data: data } });
      client.ws.terminate();
    }
    await until(() => h.herald.adapter.connectionCount() === 0, 3000, 'every socket closed');
    await until(async () => (await h.herald.adapter.users(h.app.id, 'presence-brief')).length === 0, 3000, 'no member left');
    expect(await h.herald.adapter.channelInfo(h.app.id, 'presence-brief')).toEqual({ occupied: false, subscriptionCount: 0, userCount: 0 });
    expect(await rest(h, 'GET', '/connections')).toEqual({ status: 200, body: { connections: 0 } });
  });

  it('without Redis: public subscribes and local delivery work, presence gets subscription_error 503, REST counts 503, /ready says so', async () => {
    const { client, socketId } = await connect(h);
    await redis.stop();
    await until(() => h.herald.adapter.sharedState() === 'disconnected', 3000, 'the outage to be seen');

    client.subscribe('outage-public');
    expect(await client.next()).toMatchObject({ event: 'pusher_internal:subscription_succeeded', channel: 'outage-public' });
    const data = presenceData('late');
    client.subscribe('presence-outage', privateAuth(h, socketId, 'presence-outage', data), data);
    expect(await client.next()).toMatchObject({ event: 'pusher:subscription_error', channel: 'presence-outage', data: { status: 503 } });
    // Still usable, in order, and local delivery goes on.
    const publish = await rest(h, 'POST', '/events', { name: 'e', channel: 'outage-public', data: 'local' });
    expect(publish).toEqual({ status: 200, body: {} });
    expect(await client.next()).toMatchObject({ event: 'e', channel: 'outage-public', data: 'local' });
    const channels = await rest(h, 'GET', '/channels');
    expect(channels.status).toBe(503);
    expect(channels.body).toEqual({ error: expect.stringMatching(/Redis/) });
    expect(await (await fetch(`${h.url}/ready`)).json()).toEqual({ status: 'ok', redis: 'disconnected' });

    await redis.start();
    await until(() => h.herald.adapter.sharedState() === 'connected', 5000, 'redis back');
    await until(async () => (await h.herald.adapter.channelInfo(h.app.id, 'outage-public')).subscriptionCount === 1, 3000, 'the count rewritten');
    expect(await rest(h, 'GET', '/connections')).toEqual({ status: 200, body: { connections: 1 } });
    expect(await (await fetch(`${h.url}/ready`)).json()).toEqual({ status: 'ok', redis: 'connected' });
    client.close();
  });
});
