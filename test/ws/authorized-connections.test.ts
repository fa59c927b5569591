import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHerald, TEST_APP, type TestHerald } from '../helpers/herald.js';
import {
  connect,
  expectAlive,
  expectErrorNext,
  expectSubscriptionRejected,
  finishClients,
  privateAuth,
  subscribeOk,
  userAuth,
  type RawClient,
} from './helpers.js';

// Optional "authorized connections" mode (reference 2.7): each test waits ~1.5 s, so they run concurrently
// on separate connections and clients are cleaned up once at the end.
let strict: TestHerald;
beforeAll(async () => {
  strict = await startHerald({ app: { ...TEST_APP, authorizedConnectionsOnly: true, authorizationTimeout: 1 } });
});
afterAll(async () => {
  finishClients();
  await strict.stop();
});

async function signedIn(userData: string) {
  const conn = await connect(strict);
  conn.client.send({ event: 'pusher:signin', data: { auth: userAuth(strict, conn.socketId, userData), user_data: userData } });
  expect(await conn.client.next()).toEqual({ event: 'pusher:signin_success', data: { user_data: userData } });
  return conn;
}

describe.concurrent('authorized connections only (timeout 1 s)', () => {
  async function expectClosedForAuth(client: RawClient, from: number): Promise<void> {
    await expectErrorNext(client, 4009);
    expect(await client.closed).toBe(4009);
    const elapsed = Date.now() - from;
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(4000);
  }

  it('closes a connection that does nothing with 4009 after ~1 s', async () => {
    const from = Date.now();
    const { client } = await connect(strict);
    await expectClosedForAuth(client, from);
  });

  it('a public subscription does not authorize', async () => {
    const from = Date.now();
    const { client } = await connect(strict);
    await subscribeOk(client, 'public', '');
    await expectClosedForAuth(client, from);
  });

  it('a failed private subscription or sign-in does not authorize', async () => {
    const from = Date.now();
    const { client } = await connect(strict);
    client.subscribe('private-x', 'app-key:bad');
    await expectSubscriptionRejected(client, 'private-x');
    client.send({ event: 'pusher:signin', data: { auth: 'app-key:bad', user_data: '{"id":"1"}' } });
    await expectErrorNext(client, 4009);
    await expectClosedForAuth(client, from);
  });

  it('a signed-in connection stays open', async () => {
    const { client } = await signedIn('{"id":"1"}');
    await new Promise((resolve) => setTimeout(resolve, 1600));
    await expectAlive(client);
  });

  it('connections on a private or a presence channel stay open', async () => {
    const priv = await connect(strict);
    await subscribeOk(priv.client, 'private-ok', privateAuth(strict, priv.socketId, 'private-ok'));
    const pres = await connect(strict);
    const cd = '{"user_id":"p"}';
    await subscribeOk(pres.client, 'presence-ok', privateAuth(strict, pres.socketId, 'presence-ok', cd), cd);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    await expectAlive(priv.client);
    await expectAlive(pres.client);
  });
});
