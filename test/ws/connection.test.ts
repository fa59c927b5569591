import { describe, expect, it } from 'vitest';
import { appSchema } from '../../src/config/schema.js';
import { Stats } from '../../src/metrics/stats.js';
import { Connection } from '../../src/rules/connection.js';

const app = appSchema.parse({ id: 'a1', key: 'k1', secret: 's1' });

describe('Connection', () => {
  it('remembers the user id of each presence channel, even one named like a channel', () => {
    const conn = new Connection(app, 0, new Stats());
    conn.joined('private-a', undefined);
    conn.joined('presence-x', 'presence-y');
    conn.joined('presence-y', 'u2');
    expect(conn.channelCount).toBe(3);
    expect([conn.presenceId('presence-x'), conn.presenceId('presence-y'), conn.presenceId('private-a')]).toEqual(['presence-y', 'u2', undefined]);
    expect(conn.left('presence-x')).toBe('presence-y');
    expect(conn.presenceId('presence-x')).toBeUndefined();
    expect(conn.presenceId('presence-y')).toBe('u2');
    expect(conn.left('private-a')).toBeUndefined();
    expect(conn.channelCount).toBe(1);
  });

  it('counts client events per one-second window', () => {
    const conn = new Connection(app, 0, new Stats());
    expect([1, 2, 3].map(() => conn.overClientEventRate(2, 10_000))).toEqual([false, false, true]);
    expect(conn.overClientEventRate(2, 10_999)).toBe(true);
    expect(conn.overClientEventRate(2, 11_000)).toBe(false);
  });

  it('keeps a signed-in user', () => {
    const conn = new Connection(app, 0, new Stats());
    expect(conn.user).toBeUndefined();
    conn.user = { id: 'u1', info: null, watchlist: [] };
    expect(conn.user.id).toBe('u1');
  });
});
