import { channelKind } from '../../protocol/names.js';
import type { ChannelInfo } from '../adapter/adapter.js';
import type { InfoAttribute } from './validate.js';

/**
 * Attributes of one channel for a trigger's `info` (sections 6.1/6.2): `user_count` only for
 * presence channels (omitted elsewhere), `subscription_count` for every type (CHOICE).
 */
export function triggerAttributes(channel: string, info: ChannelInfo, attrs: ReadonlySet<InfoAttribute>): Record<string, number> {
  const out: Record<string, number> = {};
  if (attrs.has('user_count') && channelKind(channel).type === 'presence') out.user_count = info.userCount;
  if (attrs.has('subscription_count')) out.subscription_count = info.subscriptionCount;
  return out;
}
