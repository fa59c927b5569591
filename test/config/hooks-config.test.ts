import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, laravelSlug, loadConfig, maskSecrets, parseHeaderList, type LoadOptions } from '../../src/config/load.js';
import { pusherWebhookEvents } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-hooks-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: string, name = `f${n++}`) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const CREDS = { HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's' };
function errorsOf(opts: LoadOptions): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) return err.errors;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('webhooks from env', () => {
  it('HERALD_APP_WEBHOOK_URL alone: every Pusher event type, batching on, no extra headers', () => {
    const { config, sources } = loadConfig({ env: { ...CREDS, HERALD_APP_WEBHOOK_URL: 'https://app.test/pusher/webhook' } });
    expect(config.apps[0]!.webhooks).toEqual([{ url: 'https://app.test/pusher/webhook', events: [...pusherWebhookEvents], headers: {}, batch: true }]);
    expect(sources['apps[0].webhooks']).toBe('env:HERALD_APP_WEBHOOK_URL');
  });

  it('HERALD_APP_WEBHOOK_EVENTS is a comma list; HERALD_APP_WEBHOOK_HEADERS a JSON object or Name: value pairs', () => {
    const load = (headers: string) =>
      loadConfig({
        env: {
          ...CREDS,
          HERALD_APP_WEBHOOK_URL: 'https://app.test/api/realtime/webhook/{event}',
          HERALD_APP_WEBHOOK_EVENTS: 'user_connected, user_disconnected,message_delivered',
          HERALD_APP_WEBHOOK_HEADERS: headers,
        },
      }).config.apps[0]!.webhooks[0]!;
    const hook = load('{"X-API-Key":"s3cret","X-Tenant":"7"}');
    expect(hook.events).toEqual(['user_connected', 'user_disconnected', 'message_delivered']);
    expect(hook.headers).toEqual({ 'X-API-Key': 's3cret', 'X-Tenant': '7' });
    expect(load('X-API-Key: s3cret; X-Tenant: 7').headers).toEqual({ 'X-API-Key': 's3cret', 'X-Tenant': '7' });
    expect(load('X-API-Key: a:b:c\nAccept: a, b').headers).toEqual({ 'X-API-Key': 'a:b:c', Accept: 'a, b' });
  });

  it('bad values are config errors naming the env key', () => {
    expect(errorsOf({ env: { ...CREDS, HERALD_APP_WEBHOOK_URL: 'ftp://x' } }).join('\n')).toMatch(/apps\[0\]\.webhooks\[0\]\.url: must be an http.*HERALD_APP_WEBHOOK_URL/);
    expect(errorsOf({ env: { ...CREDS, HERALD_APP_WEBHOOK_URL: 'http://x', HERALD_APP_WEBHOOK_EVENTS: 'channel_occupied,nope' } }).join('\n')).toMatch(
      /webhooks\[0\]\.events\[1\].*HERALD_APP_WEBHOOK_URL/,
    );
    expect(errorsOf({ env: { ...CREDS, HERALD_APP_WEBHOOK_URL: 'http://x', HERALD_APP_WEBHOOK_HEADERS: 'no colon' } }).join('\n')).toMatch(
      /expected "Name: value".*HERALD_APP_WEBHOOK_HEADERS/,
    );
    expect(errorsOf({ env: { ...CREDS, HERALD_APP_WEBHOOK_EVENTS: 'channel_occupied' } }).join('\n')).toMatch(/HERALD_APP_WEBHOOK_EVENTS is set but HERALD_APP_WEBHOOK_URL is not/);
  });

  it('a JSON config file holds several webhooks; unknown keys inside one are refused', () => {
    const webhooks = [
      { url: 'http://a.test/hook', events: ['channel_occupied'], channelPrefix: 'private-', batch: false },
      { url: 'http://b.test/{event}', events: ['user_connected'], headers: { 'X-API-Key': 'abcdefgh12' } },
    ];
    const { config } = loadConfig({ configFile: file(JSON.stringify({ apps: [{ id: 'a', key: 'k', secret: 's', webhooks }] })), env: {} });
    expect(config.apps[0]!.webhooks[0]).toMatchObject({ channelPrefix: 'private-', batch: false });
    expect(maskSecrets(config).apps[0]!.webhooks[1]!.headers).toEqual({ 'X-API-Key': '****12' });
    const typo = file(JSON.stringify({ apps: [{ id: 'a', key: 'k', secret: 's', webhooks: [{ url: 'http://a.test', evnets: [] }] }] }));
    expect(errorsOf({ configFile: typo, env: {} }).join('\n')).toMatch(/webhooks\[0\].*evnets/);
  });

  it('HERALD_* keys written in the --env-file count like environment variables, the real environment winning', () => {
    const envFile = file('REVERB_APP_ID=a\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\nHERALD_APP_WEBHOOK_URL=http://app.test/hook\nHERALD_PORT=7001\n', '.env');
    const { config, sources } = loadConfig({ envFile, env: { HERALD_PORT: '7002' } });
    expect(config.apps[0]!.webhooks[0]!.url).toBe('http://app.test/hook');
    expect(sources['apps[0].webhooks']).toBe(`env-file:${envFile} (HERALD_APP_WEBHOOK_URL)`);
    expect(config.port).toBe(7002);
  });
});

describe('Redis ingest config', () => {
  const laravel = 'APP_NAME="My Shop"\nREVERB_APP_ID=a\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\nREDIS_PASSWORD=pw\n';

  it('BROADCAST_CONNECTION=redis turns the Laravel ingest on with the APP_NAME-derived prefix; REDIS_PREFIX wins', () => {
    const on = loadConfig({ envFile: file(`${laravel}BROADCAST_CONNECTION=redis\n`), env: {} }).config;
    expect(on.redisIngest).toBe('laravel');
    expect(on.redisIngestPrefix).toBe('my_shop_database_');
    expect(on.redisUrl).toBe('redis://:pw@127.0.0.1:6379/0');
    expect(on.scaling).toBe(false);
    const prefixed = loadConfig({ envFile: file(`${laravel}BROADCAST_DRIVER=redis\nREDIS_PREFIX=shop:\n`), env: {} }).config;
    expect(prefixed.redisIngestPrefix).toBe('shop:');
    expect(loadConfig({ envFile: file(`${laravel}BROADCAST_CONNECTION=reverb\n`), env: {} }).config.redisIngest).toBe('off');
  });

  it('HERALD_REDIS_INGEST=laravel in the .env of an app on the reverb driver, with the Redis URL from HERALD_REDIS_URL', () => {
    const envFile = file(`${laravel}BROADCAST_CONNECTION=reverb\nHERALD_REDIS_INGEST=laravel\nHERALD_REDIS_URL=redis://:pw@127.0.0.1:6390/0\n`);
    const { config } = loadConfig({ envFile, env: {} });
    expect(config.redisIngest).toBe('laravel');
    expect(config.redisUrl).toBe('redis://:pw@127.0.0.1:6390/0');
  });

  it('HERALD_REDIS_INGEST=laravel takes the Redis URL from the REDIS_* keys without turning scaling on', () => {
    const { config } = loadConfig({ envFile: file(`${laravel}BROADCAST_CONNECTION=reverb\nREDIS_PORT=6390\n`), env: { HERALD_REDIS_INGEST: 'laravel' } });
    expect(config.redisUrl).toBe('redis://:pw@127.0.0.1:6390/0');
    expect(config.scaling).toBe(false);
  });

  it('mapped patterns from JSON or HERALD_APP_REDIS_INGEST; a channel placeholder missing from the pattern is refused', () => {
    const rules = [{ pattern: 'user_noti:{user_id}', channel: '#server-to-user-{user_id}', event: 'type', data: 'payload' }];
    const { config } = loadConfig({ env: { ...CREDS, HERALD_REDIS_URL: 'redis://127.0.0.1:1', HERALD_APP_REDIS_INGEST: JSON.stringify(rules) } });
    expect(config.apps[0]!.redisIngest).toEqual([{ ...rules[0], defaultEvent: 'notification' }]);
    const bad = JSON.stringify([{ pattern: 'x:{id}', channel: 'private-{user}' }]);
    expect(errorsOf({ env: { ...CREDS, HERALD_REDIS_URL: 'redis://127.0.0.1:1', HERALD_APP_REDIS_INGEST: bad } }).join('\n')).toMatch(
      /redisIngest\[0\]\.channel: \{user\} does not appear in the pattern/,
    );
    expect(errorsOf({ env: { ...CREDS, HERALD_APP_REDIS_INGEST: JSON.stringify(rules) } }).join('\n')).toMatch(/redisUrl: required for Redis ingest/);
  });

  it('laravelSlug and parseHeaderList edge cases', () => {
    expect(laravelSlug('Laravel')).toBe('laravel');
    expect(laravelSlug('  Café Déjà-Vu!! ')).toBe('cafe_deja_vu');
    expect(parseHeaderList('{}')).toEqual({});
    expect(() => parseHeaderList('{"a":1}')).toThrow(/JSON object of strings/);
  });
});
