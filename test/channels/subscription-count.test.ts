import { expect, it } from 'vitest';
import type { Adapter } from '../../src/adapter/adapter.js';
import { SubscriptionCounts } from '../../src/channels/subscription-count.js';

function recordingCounts() {
  const sent: { channel: string; count: number }[] = [];
  const adapter = {
    publish: (_appId: string, channel: string, frame: string) => {
      const data = JSON.parse(JSON.parse(frame).data) as { subscription_count: number };
      sent.push({ channel, count: data.subscription_count });
    },
  } as unknown as Adapter;
  return { counts: new SubscriptionCounts(adapter), sent };
}

it('sends every change at once on channels of up to 100 subscribers', () => {
  const { counts, sent } = recordingCounts();
  counts.changed('a', 'small', 1, 0);
  counts.changed('a', 'small', 2, 10);
  counts.changed('a', 'small', 100, 20);
  expect(sent).toEqual([
    { channel: 'small', count: 1 },
    { channel: 'small', count: 2 },
    { channel: 'small', count: 100 },
  ]);
});

it('above 100 subscribers sends at most once per 5 s, then the latest count (section 2.11)', () => {
  const { counts, sent } = recordingCounts();
  counts.changed('a', 'busy', 101, 1_000);
  counts.changed('a', 'busy', 102, 2_000);
  counts.changed('a', 'busy', 103, 3_000);
  counts.flush(5_999);
  expect(sent).toEqual([{ channel: 'busy', count: 101 }]);
  counts.flush(6_000);
  expect(sent).toEqual([
    { channel: 'busy', count: 101 },
    { channel: 'busy', count: 103 },
  ]);
  counts.flush(20_000);
  expect(sent).toHaveLength(2);
});

it('forgets a channel once it is empty', () => {
  const { counts, sent } = recordingCounts();
  counts.changed('a', 'busy', 150, 1_000);
  counts.changed('a', 'busy', 149, 1_500);
  counts.changed('a', 'busy', 0, 2_000);
  counts.flush(10_000);
  expect(sent).toEqual([{ channel: 'busy', count: 150 }]);
});
