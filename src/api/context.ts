import type { Logger } from 'pino';
import type { Adapter } from '../adapter/adapter.js';
import type { AppRegistry } from '../apps/registry.js';
import type { HeraldConfig } from '../config/schema.js';
import type { Lifecycle } from '../events/lifecycle.js';
import type { Stats } from '../metrics/stats.js';
import type { RestRateLimiter } from './rate-limit.js';

/** What the lead's server hands to `registerHttpRoutes`. */
export interface ApiDeps {
  config: HeraldConfig;
  apps: AppRegistry;
  adapter: Adapter;
  stats: Stats;
  logger: Logger;
  events: Lifecycle;
  /** Process start, in ms since the epoch. */
  startedAt: number;
  isDraining(): boolean;
}

/** Deps plus what the routes build once and share; endpoint handlers take this. */
export interface ApiContext extends ApiDeps {
  rateLimiter: RestRateLimiter;
  /** Subscribers of the channel connected to this node (what the broadcast API reports). */
  localSubscribers(appId: string, channel: string): number;
  /** Current time in ms (injectable for tests). */
  now(): number;
}
