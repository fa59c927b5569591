import { expect, it } from 'vitest';
import { ChannelSet } from '../../src/ws/channel-set.js';

it('keeps each channel once with its presence user id, in subscription order', () => {
  const set = new ChannelSet();
  set.set('news', undefined);
  set.set('presence-room', '42');
  set.set('private-a', undefined);
  set.set('presence-room', '43');
  expect([set.size, set.keys()]).toEqual([3, ['news', 'presence-room', 'private-a']]);
  expect([set.has('news'), set.has('nope'), set.get('presence-room'), set.get('news'), set.get('nope')]).toEqual([true, false, '43', undefined, undefined]);
  expect(set.delete('presence-room')).toBe(true);
  expect(set.delete('presence-room')).toBe(false);
  expect([set.size, set.keys(), set.get('private-a')]).toEqual([2, ['news', 'private-a'], undefined]);
  for (const channel of set.keys()) set.delete(channel);
  expect(set.size).toBe(0);
});
