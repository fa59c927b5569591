import type { Logger } from 'pino';
import { webhookPathName, type WebhookEvent } from '../../protocol/webhooks.js';
import type { Adapter, Maybe } from '../adapter/adapter.js';
import type { AppRegistry } from '../apps/registry.js';
import type { AppConfig, HeraldConfig, WebhookConfig } from '../config/schema.js';
import type { Lifecycle, LifecycleEvent } from '../events/lifecycle.js';
import type { Stats } from '../metrics/stats.js';
import { UrlQueue, type DeliveryOptions, type DeliveryReport } from './delivery.js';
import { channelOf, webhookEvent } from './events.js';
import { isLeave, LeaveDelay, leaveKey, type Leave } from './leave-delay.js';

/** A leave's mark outlives its delay by this much, so the holder's own release still finds it. */
const MARK_MARGIN_MS = 5000;

export interface WebhookDeps {
  config: HeraldConfig;
  apps: AppRegistry;
  adapter: Adapter;
  stats: Stats;
  logger: Logger;
}

interface AppQueues {
  app: AppConfig;
  /** `${webhook index} ${url}` → queue: one per resolved URL of each configured webhook. */
  queues: Map<string, UrlQueue>;
  /** Webhook → event name → its queue: the `{event}` URL is resolved once per pair, not per event. */
  resolved: Map<WebhookConfig, Map<string, UrlQueue>>;
  /** Events dropped in the current queue-full burst (0 = no burst). */
  dropping: number;
}

/**
 * Sends lifecycle events to each app's webhooks. Events arrive once per cluster (the node whose
 * state change caused them emits them), so every node sends only its own: nothing is sent twice.
 */
export class Webhooks {
  private readonly perApp = new Map<string, AppQueues>();
  private readonly delay: LeaveDelay;
  private readonly delivery: DeliveryOptions;
  private readonly report: DeliveryReport;
  /** Released leaves whose cluster re-check has not answered yet. */
  private rechecking = 0;
  /** Events behind a re-join's `claimLeave` that has not answered yet (they keep their order). */
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Shutdown: queues made from now on send at once too. */
  private hurry = false;

  constructor(private readonly deps: WebhookDeps) {
    const { config, stats, logger } = deps;
    this.delay = new LeaveDelay(config.webhookLeaveDelayMs, (event) => void this.recheck(event));
    this.delivery = {
      batchMs: config.webhookBatchMs,
      batchSize: config.webhookBatchSize,
      timeoutMs: config.webhookTimeoutMs,
      retryWindowMs: config.webhookRetryWindowMs,
      backoffMs: config.webhookBackoffMs,
      backoffMaxMs: config.webhookBackoffMaxMs,
    };
    this.report = {
      sent: (n) => (stats.webhookEventsSent += n),
      retrying: (url, reason, delayMs) => {
        stats.webhookRetries++;
        logger.warn({ url, reason, retryInMs: delayMs }, 'webhook request failed, will retry');
      },
      expired: (url, n, reason) => {
        stats.webhookDropped('expired', n);
        logger.error({ url, events: n, reason }, 'webhook request failed for the whole retry window: events dropped');
      },
    };
  }

  /** True when some app has a webhook: otherwise nothing needs to listen. */
  static wanted(apps: readonly AppConfig[]): boolean {
    return apps.some((app) => app.webhooks.length > 0);
  }

  attach(events: Lifecycle): () => void {
    return events.on((event) => this.handle(event));
  }

  /** Events held, being re-checked, waiting or in flight, across apps (a gauge). */
  queued(): number {
    return this.delay.size + this.rechecking + this.waiting + this.queues().reduce((n, q) => n + q.pending, 0);
  }

  handle(event: LifecycleEvent): void {
    const app = this.deps.apps.byId(event.appId);
    if (!app || !app.webhooks.some((w) => w.events.includes(event.type))) return;
    const admitted = this.delay.admit(event);
    const key = this.deps.config.webhookLeaveDelayMs > 0 ? leaveKey(event) : undefined;
    if (key === undefined) {
      if (admitted) this.send(app, event, false);
      return;
    }
    const { adapter, config } = this.deps;
    if (isLeave(event)) {
      adapter.markLeave(app.id, key, config.webhookLeaveDelayMs + MARK_MARGIN_MS);
      return;
    }
    const claimed = adapter.claimLeave(app.id, key);
    // Cancelled here by this node's own held leave: the mark goes with it.
    if (!admitted) return void Promise.resolve(claimed).catch(() => undefined);
    // Otherwise a claimed mark is a leave held on another node: the re-join of a reload, sent by neither.
    this.send(app, event, claimed);
  }

  /** Shutdown: held leaves go out now, batches stop waiting; resolves when all is sent or at the deadline. */
  async drain(deadline: number): Promise<void> {
    this.hurry = true;
    this.delay.releaseAll();
    for (const q of this.queues()) q.hurryUp();
    while (Date.now() < deadline && this.queued() > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const left = this.queued();
    if (left > 0) this.deps.logger.warn({ events: left }, 'shutdown grace period over: webhook events still unsent');
  }

  close(): void {
    this.delay.close();
    for (const q of this.queues()) q.close();
  }

  private queues(): UrlQueue[] {
    return [...this.perApp.values()].flatMap(({ queues }) => [...queues.values()]);
  }

  /**
   * A held leave is due. The re-join may have happened on another node: the adapter's queries
   * see the whole cluster, so a leave that is no longer true is not sent.
   */
  private async recheck(event: Leave): Promise<void> {
    const { adapter, logger } = this.deps;
    this.rechecking++;
    try {
      // A re-join on another node took the mark and went unsent: so does this leave.
      if (!(await adapter.claimLeave(event.appId, leaveKey(event)!))) return;
      if (event.type === 'channel_vacated' && (await adapter.channelInfo(event.appId, event.channel)).occupied) return;
      if (event.type === 'member_removed' && (await adapter.users(event.appId, event.channel)).includes(event.userId)) return;
    } catch (err) {
      logger.warn({ err, event: event.type, channel: event.channel }, 'could not re-check a delayed webhook event; sending it');
    } finally {
      this.rechecking--;
    }
    const app = this.deps.apps.byId(event.appId);
    if (app) this.dispatch(app, event);
  }

  /** Dispatches unless `heldElsewhere`; behind any answer still awaited, so that each URL keeps the order of events. */
  private send(app: AppConfig, event: LifecycleEvent, heldElsewhere: Maybe<boolean>): void {
    if (this.waiting === 0 && !(heldElsewhere instanceof Promise)) {
      if (!heldElsewhere) this.dispatch(app, event);
      return;
    }
    this.waiting++;
    // Unreachable shared state cannot match a re-join: send it rather than lose it.
    const held = Promise.resolve(heldElsewhere).catch(() => false);
    this.tail = this.tail
      .then(() => held)
      .then((skip) => {
        if (!skip) this.dispatch(app, event);
      })
      .catch((err: unknown) => this.deps.logger.error({ err, event: event.type }, 'webhook dispatch failed'))
      .finally(() => this.waiting--);
  }

  private dispatch(app: AppConfig, event: LifecycleEvent): void {
    const channel = channelOf(event);
    let body: WebhookEvent | undefined;
    app.webhooks.forEach((webhook, index) => {
      if (!webhook.events.includes(event.type) || !channelMatches(webhook, channel)) return;
      body ??= webhookEvent(event);
      this.enqueue(app, index, webhook, body);
    });
  }

  private enqueue(app: AppConfig, index: number, webhook: WebhookConfig, event: WebhookEvent): void {
    let entry = this.perApp.get(app.id);
    if (!entry) this.perApp.set(app.id, (entry = { app, queues: new Map(), resolved: new Map(), dropping: 0 }));
    const queue = this.queueFor(entry, index, webhook, event.name);
    // A burst of subscribers to an empty cache channel is one miss for the backend (section 7: de-duplicated).
    if (event.name === 'cache_miss' && queue.has((e) => e.name === 'cache_miss' && e.channel === event.channel)) return;
    this.makeRoom(entry);
    queue.push(event);
  }

  private queueFor(entry: AppQueues, index: number, webhook: WebhookConfig, name: WebhookEvent['name']): UrlQueue {
    let byName = entry.resolved.get(webhook);
    if (!byName) entry.resolved.set(webhook, (byName = new Map()));
    let queue = byName.get(name);
    if (queue) return queue;
    const url = webhook.url.replaceAll('{event}', webhookPathName(name));
    const key = `${index} ${url}`;
    queue = entry.queues.get(key);
    if (!queue) {
      const options = { ...this.delivery, batchSize: webhook.batch ? this.delivery.batchSize : 1, batchMs: webhook.batch ? this.delivery.batchMs : 0 };
      entry.queues.set(key, (queue = new UrlQueue(url, entry.app, webhook.headers, options, this.report)));
      if (this.hurry) queue.hurryUp();
    }
    byName.set(name, queue);
    return queue;
  }

  /** The per-app bound: drop the oldest event of the longest queue (the receiver that is behind). */
  private makeRoom(entry: AppQueues): void {
    let waiting = 0;
    let longest: UrlQueue | undefined;
    for (const q of entry.queues.values()) {
      waiting += q.length;
      if (!longest || q.length > longest.length) longest = q;
    }
    if (waiting < entry.app.webhookQueueSize) {
      if (entry.dropping > 0) {
        this.deps.logger.warn({ app: entry.app.id, dropped: entry.dropping }, 'webhook queue has room again');
        entry.dropping = 0;
      }
      return;
    }
    if (!longest?.dropOldest()) return;
    this.deps.stats.webhookDropped('queue_full', 1);
    if (entry.dropping++ === 0) {
      this.deps.logger.warn({ app: entry.app.id, limit: entry.app.webhookQueueSize }, 'webhook queue full: dropping the oldest events');
    }
  }
}

function channelMatches(webhook: WebhookConfig, channel: string | undefined): boolean {
  if (channel === undefined) return true;
  if (webhook.channelPrefix !== undefined && !channel.startsWith(webhook.channelPrefix)) return false;
  if (webhook.channelSuffix !== undefined && !channel.endsWith(webhook.channelSuffix)) return false;
  return true;
}
