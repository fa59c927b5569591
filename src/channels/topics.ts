/**
 * A channel's uWS topic is `{appId}:{channel}`. Channel names cannot contain ':', so the topic is
 * unambiguous across apps, and the channel is whatever follows the app's prefix.
 */
export const topicOf = (appId: string, channel: string): string => `${appId}:${channel}`;

export const channelOfTopic = (appId: string, topic: string): string => topic.slice(appId.length + 1);
