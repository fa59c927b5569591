/**
 * `GET /channels` and `/users` bodies written by hand: valid JSON with the same answer as a
 * serializer would give, across pages of the channel index, with the event loop turning between
 * pages. (channels-at-scale.test.ts checks the same against a real process and real clients.)
 */
import { describe, expect, it } from 'vitest';
import { CHANNELS_PAGE } from '../../src/api/channels.js';
import { unitHarness } from './unit-harness.js';

type Listing = { channels: Record<string, Record<string, number>> };

describe('GET /channels across pages', () => {
  it('lists every channel once, with counts, in well-formed JSON', async () => {
    const h = unitHarness();
    const conns = Array.from({ length: 40 }, () => h.connect());
    const expected: Record<string, { subscription_count: number }> = {};
    for (let i = 0; i < 2 * CHANNELS_PAGE + 10; i++) {
      const name = `private-user.${i}`;
      const holders = conns.slice(0, 1 + (i % 3));
      for (const conn of holders) h.subscribe(conn, name);
      expected[name] = { subscription_count: holders.length };
    }
    for (let i = 0; i < 40; i++) h.signIn(conns[i]!, `u${i}`);
    for (const conn of conns) h.subscribe(conn, `#server-to-user-${conn.socketId}`);

    const all = await h.signed('GET', '/apps/app-id/channels', undefined, { info: 'subscription_count' });
    expect(all.status).toBe(200);
    expect(all.body as Listing).toEqual({ channels: expected });
    expect(Object.keys((all.body as Listing).channels)).toHaveLength(2 * CHANNELS_PAGE + 10);

    const bare = await h.signed('GET', '/apps/app-id/channels');
    expect(Object.values((bare.body as Listing).channels).every((attrs) => Object.keys(attrs).length === 0)).toBe(true);

    const filtered = await h.signed('GET', '/apps/app-id/channels', undefined, { filter_by_prefix: 'private-user.1' });
    expect(Object.keys((filtered.body as Listing).channels).sort()).toEqual(
      Object.keys(expected)
        .filter((name) => name.startsWith('private-user.1'))
        .sort(),
    );
    for (const prefix of ['#', '#server-to-user-', `#server-to-user-${conns[0]!.socketId}`]) {
      const hidden = await h.signed('GET', '/apps/app-id/channels', undefined, { filter_by_prefix: prefix });
      expect([prefix, hidden.body]).toEqual([prefix, { channels: {} }]);
    }
  });

  it('gives the event loop a turn between pages, and a short answer at once', async () => {
    const h = unitHarness();
    const conn = h.connect();
    h.subscribe(conn, 'one');
    let turns = 0;
    const tick = () => setImmediate(() => turns++);
    tick();
    expect((await h.signed('GET', '/apps/app-id/channels')).body).toEqual({ channels: { one: {} } });
    expect(turns).toBe(0);

    for (let i = 0; i < 3 * CHANNELS_PAGE; i++) h.subscribe(conn, `c${i}`);
    tick();
    const long = await h.signed('GET', '/apps/app-id/channels');
    expect(Object.keys((long.body as Listing).channels)).toHaveLength(3 * CHANNELS_PAGE + 1);
    expect(turns).toBeGreaterThan(0);
  });

  it('counts presence users per channel when asked', async () => {
    const h = unitHarness();
    const [a, b, c] = [h.connect(), h.connect(), h.connect()];
    h.subscribe(a, 'presence-r1', 'ada');
    h.subscribe(b, 'presence-r1', 'ada');
    h.subscribe(c, 'presence-r1', 'bob');
    h.subscribe(c, 'presence-r2', 'bob');
    h.subscribe(c, 'private-x');
    const res = await h.signed('GET', '/apps/app-id/channels', undefined, { filter_by_prefix: 'presence-', info: 'user_count,subscription_count' });
    expect(res.raw).toBe('{"channels":{"presence-r1":{"user_count":2,"subscription_count":3},"presence-r2":{"user_count":1,"subscription_count":1}}}');
  });
});

describe('GET /channels/{name}/users', () => {
  it('writes any user id as a JSON string', async () => {
    const h = unitHarness();
    const ids = ['plain', 'quote"d', 'back\\slash', 'new\nline', 'ünï', '42'];
    for (const id of ids) h.subscribe(h.connect(), 'presence-odd', id);
    const res = await h.signed('GET', '/apps/app-id/channels/presence-odd/users');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ users: ids.map((id) => ({ id })) });
    const empty = await h.signed('GET', '/apps/app-id/channels/presence-none/users');
    expect(empty.raw).toBe('{"users":[]}');
  });
});
