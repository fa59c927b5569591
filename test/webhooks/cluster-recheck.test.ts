/**
 * In a cluster the re-join that undoes a held leave may happen on another node, which this node's
 * LeaveDelay never sees. When the leave comes due, the webhook module asks the adapter (whose
 * queries are cluster-wide in Redis mode): here a stand-in adapter answers as the cluster would.
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
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let receiver: WebhookReceiver;
let webhooks: Webhooks;
afterEach(async () => {
  webhooks.close();
  await receiver.close();
});

/** What the rest of the cluster holds: occupied channels and presence members. */
const cluster = { occupied: new Set<string>(), members: new Map<string, string[]>(), failing: false };
const clusterAdapter = {
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
