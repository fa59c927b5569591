/**
 * The webhook module on its own, fed lifecycle events directly. In a cluster the re-join that undoes
 * a held leave may happen on another node, which this node's LeaveDelay never sees: when the leave
 * comes due, the module asks the adapter (cluster-wide in Redis mode); here a stand-in adapter
 * answers as the cluster would.
 */
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import type { Adapter, ChannelInfo } from '../../src/adapter/adapter.js';
import { StaticAppRegistry } from '../../src/apps/registry.js';
import { serverSchema } from '../../src/config/schema.js';
import { Lifecycle } from '../../src/events/lifecycle.js';
import { Stats } from '../../src/metrics/stats.js';
import { Webhooks } from '../../src/webhooks/webhooks.js';
import { sleep, until } from '../helpers/clients.js';
import { holdFirstRequest, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let receiver: WebhookReceiver;
let webhooks: Webhooks;
afterEach(async () => {
  webhooks.close();
  await receiver.close();
});

/** What the rest of the cluster holds: occupied channels and presence members. */
const cluster = { occupied: new Set<string>(), members: new Map<string, string[]>(), marks: new Set<string>(), failing: false };
const clusterAdapter = {
  markLeave(_app: string, key: string): void {
    cluster.marks.add(key);
  },
  claimLeave(_app: string, key: string): boolean | Promise<boolean> {
    if (cluster.failing) return Promise.reject(new Error('Redis is down'));
    return cluster.marks.delete(key);
  },
  async channelInfo(_app: string, channel: string): Promise<ChannelInfo> {
    if (cluster.failing) throw new Error('Redis is down');
    return { occupied: cluster.occupied.has(channel), subscriptionCount: cluster.occupied.has(channel) ? 1 : 0, userCount: 0 };
  },
  async users(_app: string, channel: string): Promise<string[]> {
    return cluster.members.get(channel) ?? [];
  },
} as unknown as Adapter;

async function setup(): Promise<Lifecycle> {
  receiver = await startWebhookReceiver({ appId: 'app-id', key: 'app-key', secret: 'app-secret' });
  const config = serverSchema.parse({
    webhookLeaveDelayMs: 200,
    webhookBatchMs: 10,
    apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', webhooks: [{ url: receiver.url }] }],
  });
  webhooks = new Webhooks({ config, apps: new StaticAppRegistry(config.apps), adapter: clusterAdapter, stats: new Stats(), logger: pino({ level: 'silent' }) });
  const events = new Lifecycle();
  webhooks.attach(events);
  return events;
}

it('a leave undone on another node is not sent; one that is still true is', async () => {
  const events = await setup();
  cluster.occupied = new Set(['news']);
  cluster.members = new Map([['presence-room', ['7']]]);
  events.emit({ type: 'channel_vacated', appId: 'app-id', channel: 'news' });
  events.emit({ type: 'member_removed', appId: 'app-id', channel: 'presence-room', userId: '7' });
  events.emit({ type: 'member_removed', appId: 'app-id', channel: 'presence-room', userId: '8' });
  events.emit({ type: 'channel_vacated', appId: 'app-id', channel: 'gone' });
  await until(() => receiver.events().length === 2, 'the leaves that are still true', 3000);
  await sleep(300);
  expect(receiver.events()).toEqual([
    { name: 'member_removed', channel: 'presence-room', user_id: '8' },
    { name: 'channel_vacated', channel: 'gone' },
  ]);
});

it('when the cluster cannot be asked, the leave is sent rather than lost', async () => {
  const events = await setup();
  cluster.failing = true;
  events.emit({ type: 'channel_vacated', appId: 'app-id', channel: 'news' });
  await until(() => receiver.events().length === 1, 'the leave', 3000);
  expect(receiver.events()).toEqual([{ name: 'channel_vacated', channel: 'news' }]);
  cluster.failing = false;
});

it('a full queue logs once when dropping starts and once when there is room again, with the count', async () => {
  receiver = await startWebhookReceiver({ appId: 'app-id', key: 'app-key', secret: 'app-secret' });
  const release = holdFirstRequest(receiver);
  const lines: { msg: string; dropped?: number }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const config = serverSchema.parse({
    webhookBatchMs: 0,
    apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret', webhookQueueSize: 3, webhooks: [{ url: receiver.url, batch: false }] }],
  });
  const stats = new Stats();
  webhooks = new Webhooks({ config, apps: new StaticAppRegistry(config.apps), adapter: clusterAdapter, stats, logger });
  const occupied = (channel: string) => webhooks.handle({ type: 'channel_occupied', appId: 'app-id', channel });
  occupied('first');
  await until(() => receiver.requests.length === 1, 'the first request to hang');
  for (let i = 0; i < 10; i++) occupied(`c-${i}`);
  expect(stats.webhookEventsDropped.get('queue_full')).toBe(7);
  expect(lines.map((l) => l.msg)).toEqual(['webhook queue full: dropping the oldest events']);
  release();
  await until(() => receiver.accepted().length === 4, 'the queue to drain');
  occupied('later');
  expect(lines.map((l) => l.msg)).toEqual(['webhook queue full: dropping the oldest events', 'webhook queue has room again']);
  expect(lines[1]!.dropped).toBe(7);
  await until(() => receiver.accepted().length === 5, 'the later event');
  expect(receiver.events().map((e) => e.channel)).toEqual(['first', 'c-7', 'c-8', 'c-9', 'later']);
});
