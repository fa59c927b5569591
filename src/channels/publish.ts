import { serverEvent } from '../../protocol/frames.js';
import { channelKind } from '../../protocol/names.js';
import type { Adapter } from '../adapter/adapter.js';
import type { AppConfig } from '../config/schema.js';

/**
 * The one way a server-side event (REST, broadcast API, later Redis ingest) reaches subscribers:
 * serialized once, fanned out by the adapter, remembered for cache channels.
 */
export function publishEvent(
  adapter: Adapter,
  app: AppConfig,
  channel: string,
  event: string,
  data: string,
  exceptSocketId?: string,
  localOnly?: boolean,
): void {
  adapter.publish(app.id, channel, serverEvent(event, channel, data), exceptSocketId, localOnly);
  if (channelKind(channel).cache) adapter.cache(app.id, channel, event, data, app.cacheTtl);
}
