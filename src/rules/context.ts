import type { Logger } from 'pino';
import type { Adapter } from '../adapter/adapter.js';
import type { AppRegistry } from '../apps/registry.js';
import type { SubscriptionCounts } from '../channels/subscription-count.js';
import type { HeraldConfig } from '../config/schema.js';
import type { Lifecycle } from '../events/lifecycle.js';
import type { Stats } from '../metrics/stats.js';

/** What the connection rules, and the protocols that call them, need from the rest of the server. */
export interface ServerContext {
  config: HeraldConfig;
  apps: AppRegistry;
  adapter: Adapter;
  stats: Stats;
  logger: Logger;
  counts: SubscriptionCounts;
  events: Lifecycle;
  isDraining(): boolean;
}
