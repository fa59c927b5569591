import { afterAll, beforeAll, expect, it } from 'vitest';
import { RawClient, dataOf } from '../helpers/raw-client.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';

let h: TestHerald;
beforeAll(async () => (h = await startHerald()));
afterAll(() => h.stop());

it('connects and subscribes', async () => {
  const { client, socketId } = await RawClient.established(h.port);
  expect(socketId).toMatch(/^\d+\.\d+$/);
  client.subscribe('my-channel', '');
  const f = await client.next('pusher_internal:subscription_succeeded');
  expect(f.channel).toBe('my-channel');
  expect(dataOf(f)).toEqual({});
  client.close();
});
