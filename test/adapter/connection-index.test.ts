import { describe, expect, it } from 'vitest';
import { ConnectionIndex } from '../../src/adapter/connection-index.js';
import { appSchema } from '../../src/config/schema.js';
import { Stats } from '../../src/metrics/stats.js';
import { Connection } from '../../src/rules/connection.js';

const app = appSchema.parse({ id: 'a1', key: 'k1', secret: 's1' });

function added(index: ConnectionIndex): Connection {
  const conn = new Connection(app, 0, new Stats());
  conn.socketId = index.add(conn);
  return conn;
}

describe('ConnectionIndex', () => {
  it('gives Pusher-shaped socket ids and finds each connection by its whole id', () => {
    const index = new ConnectionIndex();
    const [a, b] = [added(index), added(index)];
    expect(a.socketId).toMatch(/^\d+\.0$/);
    expect(b.socketId).toMatch(/^\d+\.1$/);
    expect(index.get(a.socketId)).toBe(a);
    expect(index.get(b.socketId)).toBe(b);
    expect(index.size).toBe(2);
    // The right slot with another random part, or no valid slot at all, finds nothing.
    const [random, slot] = a.socketId.split('.');
    for (const id of [`${Number(random) + 1}.${slot}`, `${random}.`, `${random}.9`, `${random}.-1`, `${random}.0.5`, 'x', '']) {
      expect(index.get(id)).toBeUndefined();
    }
  });

  it('reuses a freed slot under a new id, so a stale id does not reach the new connection', () => {
    const index = new ConnectionIndex();
    const a = added(index);
    const b = added(index);
    expect(index.remove(a)).toBe(true);
    expect(index.remove(a)).toBe(false);
    expect(index.get(a.socketId)).toBeUndefined();
    const c = added(index);
    expect(c.socketId.split('.')[1]).toBe('0');
    expect(index.get(c.socketId)).toBe(c);
    // A 1-in-a-billion clash of random parts aside, the old id no longer matches.
    if (c.socketId !== a.socketId) expect(index.get(a.socketId)).toBeUndefined();
    expect([...index.values()]).toEqual([c, b]);
    expect(index.size).toBe(2);
  });

  it("files a connection under an id of its own (a Socket.IO 2 client's) while it is free, else under a slot id", () => {
    const index = new ConnectionIndex();
    const own = new Connection(app, 0, new Stats());
    own.socketId = '123.4567890123';
    expect(index.add(own)).toBe('123.4567890123');
    const clash = new Connection(app, 0, new Stats());
    clash.socketId = '123.4567890123';
    clash.socketId = index.add(clash);
    expect(clash.socketId).toMatch(/^\d+\.0$/);
    expect(index.get('123.4567890123')).toBe(own);
    expect(index.get(clash.socketId)).toBe(clash);
    expect(index.size).toBe(2);
    expect([...index.values()]).toEqual([clash, own]);
    expect(index.remove(own)).toBe(true);
    expect(index.get('123.4567890123')).toBeUndefined();
    expect(index.remove(own)).toBe(false);
    expect(index.size).toBe(1);
  });
});
