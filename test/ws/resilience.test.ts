import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, dataOf } from '../helpers/raw-client.js';

let h: TestHerald;
beforeAll(async () => (h = await startHerald()));
afterAll(() => h.stop());

it('a failure inside frame handling costs that frame only: error frame, connection and server live on', async () => {
  const { adapter } = h.herald;
  const subscribe = adapter.subscribe.bind(adapter);
  adapter.subscribe = () => {
    throw new Error('injected failure');
  };
  const { client } = await RawClient.established(h.port);
  try {
    client.subscribe('news', '');
    expect((await client.next('pusher:error')).data).toEqual({ code: null, message: 'Internal server error' });
  } finally {
    adapter.subscribe = subscribe;
  }
  client.subscribe('news', '');
  expect(dataOf(await client.next('pusher_internal:subscription_succeeded'))).toEqual({});
  const other = await RawClient.established(h.port);
  other.client.send({ event: 'pusher:ping' });
  await other.client.next('pusher:pong');
  client.close();
  other.client.close();
});
