import { describe, expect, it } from 'vitest';
import { appSchema, redisIngestRuleSchema, type RedisIngestRule } from '../../src/config/schema.js';
import { laravelRoute, patternRoute } from '../../src/ingest/routes.js';

const app = appSchema.parse({ id: 'a', key: 'k', secret: 's', maxEventDataSize: 50 });
const rule = (r: Partial<RedisIngestRule> & { pattern: string; channel: string }) => redisIngestRuleSchema.parse(r);

describe('laravelRoute', () => {
  const route = laravelRoute(app, 'my[app]_database_');

  it('PSUBSCRIBEs the prefix with glob characters escaped', () => {
    expect(route.glob).toBe('my\\[app\\]_database_*');
  });

  it('strips the prefix, relays data as sent and excludes a valid socket', () => {
    const parsed = route.parse('my[app]_database_presence-chat.1', '{"event":"App\\\\Events\\\\Msg","data":{"a":1,"socket":"1.2"},"socket":"1.2"}');
    expect(parsed).toEqual({
      ok: true,
      delivery: { app, channel: 'presence-chat.1', event: 'App\\Events\\Msg', data: '{"a":1,"socket":"1.2"}', exceptSocketId: '1.2' },
    });
    const noSocket = route.parse('my[app]_database_news', '{"event":"e","data":[],"socket":null}');
    expect(noSocket).toMatchObject({ ok: true, delivery: { channel: 'news', data: '[]', exceptSocketId: undefined } });
  });

  it('is not concerned with channels outside its prefix; names the reason for bad input', () => {
    expect(route.parse('other_news', '{}')).toBeUndefined();
    expect(route.parse('my[app]_database_news', 'nope')).toMatchObject({ ok: false, reason: 'not_json' });
    expect(route.parse('my[app]_database_news', '{"event":"e"}')).toMatchObject({ ok: false, reason: 'missing_fields' });
    expect(route.parse('my[app]_database_', '{"event":"e","data":{}}')).toMatchObject({ ok: false, reason: 'invalid_channel' });
    expect(route.parse('my[app]_database_x', '{"event":"pusher_internal:x","data":{}}')).toMatchObject({ ok: false, reason: 'invalid_event' });
    expect(route.parse('my[app]_database_x', JSON.stringify({ event: 'e', data: { s: 'x'.repeat(60) } }))).toMatchObject({ ok: false, reason: 'too_large' });
  });
});

describe('patternRoute', () => {
  it('one glob star per placeholder; the values fill the channel template', () => {
    const route = patternRoute(app, rule({ pattern: 'tenant:{tenant}:user?:{id}', channel: 'private-{tenant}.user.{id}', data: 'payload' }));
    expect(route.glob).toBe('tenant:*:user\\?:*');
    expect(route.parse('tenant:acme:user?:42', '{"type":"hello","payload":{"x":1}}')).toMatchObject({
      ok: true,
      delivery: { channel: 'private-acme.user.42', event: 'hello', data: '{"x":1}' },
    });
    expect(route.parse('tenant:acme:userX:42', '{}')).toBeUndefined();
  });

  it('defaults: event from `type` else `notification`, data = the whole message; a socket field when configured', () => {
    const route = patternRoute(app, rule({ pattern: 'n:{id}', channel: '#server-to-user-{id}', socket: 'except' }));
    expect(route.parse('n:7', '{"x":1,"except":"3.4"}')).toMatchObject({
      ok: true,
      delivery: { channel: '#server-to-user-7', event: 'notification', data: '{"x":1,"except":"3.4"}', exceptSocketId: '3.4' },
    });
    expect(route.parse('n:7', '{"type":"t","except":"not a socket"}')).toMatchObject({ ok: true, delivery: { event: 't', exceptSocketId: undefined } });
    expect(patternRoute(app, rule({ pattern: 'n:{id}', channel: 'x', event: 'kind', defaultEvent: 'ping' })).parse('n:1', '{}')).toMatchObject({
      delivery: { event: 'ping' },
    });
  });

  it('a placeholder value that makes an invalid channel is dropped, not delivered elsewhere', () => {
    const route = patternRoute(app, rule({ pattern: 'n:{id}', channel: '#server-to-user-{id}' }));
    expect(route.parse('n:a b', '{}')).toMatchObject({ ok: false, reason: 'invalid_channel' });
    expect(route.parse('n:1#server-to-user-2', '{}')).toMatchObject({ ok: false, reason: 'invalid_channel' });
  });
});
