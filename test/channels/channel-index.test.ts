import { describe, expect, it } from 'vitest';
import { ChannelIndex, SortedNames, type ChannelQuery } from '../../src/channels/channel-index.js';

const UNLISTED = '#server-to-user-';

/** A seeded generator, so that a failing case can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

/** What a listing must return, computed the slow way. */
function expected(model: Map<string, number>, prefix: string): [string, number][] {
  return [...model]
    .filter(([name]) => name.startsWith(prefix) && !name.startsWith(UNLISTED))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every page of a listing, joined. */
function listAll(index: ChannelIndex, appId: string, prefix: string, limit: number): [string, number][] {
  const out: [string, number][] = [];
  let after: string | undefined;
  for (let pages = 0; ; pages++) {
    const page = index.page(appId, { prefix, after, limit });
    expect(page.names.length).toBeLessThanOrEqual(limit);
    expect(page.names.length).toBe(page.subscriptionCounts.length);
    page.names.forEach((name, k) => out.push([name, page.subscriptionCounts[k]!]));
    if (page.next === undefined) return out;
    expect(page.names.length).toBe(limit);
    expect(page.next).toBe(page.names.at(-1));
    after = page.next;
    expect(pages).toBeLessThan(100_000);
  }
}

describe('SortedNames', () => {
  it('keeps names sorted and distinct through adds and deletes, across every block size', () => {
    for (const blockSize of [2, 3, 4, 8, 512]) {
      const rnd = random(blockSize);
      const names = new SortedNames(blockSize);
      const model = new Set<string>();
      for (let step = 0; step < 4000; step++) {
        const name = `c${rnd(300)}`;
        if (rnd(3) === 0) expect(names.delete(name)).toBe(model.delete(name));
        else {
          expect(names.add(name)).toBe(!model.has(name));
          model.add(name);
        }
        if (step % 97 === 0) {
          expect([...names]).toEqual([...model].sort());
          for (let k = 0; k < 300; k += 7) expect(names.has(`c${k}`)).toBe(model.has(`c${k}`));
        }
        expect(names.size).toBe(model.size);
      }
      for (const name of [...model]) names.delete(name);
      expect([...names]).toEqual([]);
      expect(names.size).toBe(0);
    }
  });

  it('seeks to the first name at or after a key, and walks on from there', () => {
    const names = new SortedNames(2);
    for (const name of ['b', 'd', 'f', 'h', 'j']) names.add(name);
    const walk = (key: string) => {
      const at = names.seek(key);
      const out: string[] = [];
      for (let name = names.next(at); name !== undefined; name = names.next(at)) out.push(name);
      return out;
    };
    expect(walk('')).toEqual(['b', 'd', 'f', 'h', 'j']);
    expect(walk('a')).toEqual(['b', 'd', 'f', 'h', 'j']);
    expect(walk('d')).toEqual(['d', 'f', 'h', 'j']);
    expect(walk('e')).toEqual(['f', 'h', 'j']);
    expect(walk('j')).toEqual(['j']);
    expect(walk('k')).toEqual([]);
    expect(walk('\uffff')).toEqual([]);
    const empty = new SortedNames();
    expect(empty.next(empty.seek('a'))).toBeUndefined();
  });

  it('compares by UTF-16 code unit, the order of the characters channel names may hold', () => {
    const names = new SortedNames(2);
    const all = ['a', 'A', '-', '_', '=', '@', ',', '.', ';', '0', '9', 'z', 'Z', '#server-to-user-1', 'private-a', 'private-'];
    for (const name of all) names.add(name);
    expect([...names]).toEqual([...all].sort());
    expect(names.add('a')).toBe(false);
    expect(names.delete('missing')).toBe(false);
    expect(names.delete('#')).toBe(false);
  });
});

describe('ChannelIndex', () => {
  it('keeps each channel count per app, and forgets a channel at 0', () => {
    const index = new ChannelIndex(UNLISTED);
    index.set('a1', 'news', 1);
    index.set('a1', 'news', 3);
    index.set('a2', 'news', 2);
    index.set('a1', `${UNLISTED}7`, 1);
    expect([index.count('a1', 'news'), index.count('a2', 'news'), index.count('a3', 'news')]).toEqual([3, 2, 0]);
    expect([index.size('a1'), index.size('a2'), index.size('a3')]).toEqual([2, 1, 0]);
    expect(index.count('a1', `${UNLISTED}7`)).toBe(1);
    index.set('a1', 'news', 0);
    index.set('a1', 'news', 0);
    index.set('a3', 'news', 0);
    expect([index.count('a1', 'news'), index.size('a1')]).toEqual([0, 1]);
    index.set('a1', `${UNLISTED}7`, 0);
    expect(index.size('a1')).toBe(0);
    expect(index.page('a1', { prefix: '', limit: 10 })).toEqual({ names: [], subscriptionCounts: [], next: undefined });
    expect(index.page('a2', { prefix: '', limit: 10 })).toEqual({ names: ['news'], subscriptionCounts: [2], next: undefined });
  });

  it('counts through every transition: 0 → 1 → 2 → 1 → 0, 0 → 3 → 0, 2 → 5', () => {
    const index = new ChannelIndex(UNLISTED, 2);
    const seen: number[] = [];
    for (const count of [1, 2, 1, 0, 3, 0, 2, 5, 1, 1, 4, 4, 0, 0]) {
      index.set('a', 'c', count);
      seen.push(index.count('a', 'c'), index.size('a'), index.page('a', { prefix: '', limit: 5 }).subscriptionCounts[0] ?? 0);
    }
    expect(seen).toEqual([1, 2, 1, 0, 3, 0, 2, 5, 1, 1, 4, 4, 0, 0].flatMap((n) => [n, n > 0 ? 1 : 0, n]));
  });

  it('lists by prefix with counts, and never the unlisted user channels', () => {
    const index = new ChannelIndex(UNLISTED, 2);
    const channels: [string, number][] = [
      [`${UNLISTED}1`, 1],
      [`${UNLISTED}2`, 2],
      ['presence-a', 2],
      ['presence-b', 1],
      ['private-encrypted-x', 4],
      ['private-user.1', 1],
      ['private-user.10', 1],
      ['private-user.2', 5],
      ['public', 1],
    ];
    for (const [name, count] of channels) index.set('a', name, count);
    const names = (query: ChannelQuery) => index.page('a', query).names;
    expect(names({ prefix: '', limit: 100 })).toEqual(channels.slice(2).map(([n]) => n));
    expect(index.page('a', { prefix: 'private-user.1', limit: 100 })).toEqual({
      names: ['private-user.1', 'private-user.10'],
      subscriptionCounts: [1, 1],
      next: undefined,
    });
    expect(names({ prefix: 'presence-', limit: 100 })).toEqual(['presence-a', 'presence-b']);
    expect(names({ prefix: 'private-', limit: 100 })).toEqual(['private-encrypted-x', 'private-user.1', 'private-user.10', 'private-user.2']);
    expect(names({ prefix: 'public', limit: 100 })).toEqual(['public']);
    expect(names({ prefix: 'publicity', limit: 100 })).toEqual([]);
    expect(names({ prefix: 'zzz', limit: 100 })).toEqual([]);
    expect(names({ prefix: '#', limit: 100 })).toEqual([]);
    expect(names({ prefix: UNLISTED, limit: 100 })).toEqual([]);
    expect(names({ prefix: `${UNLISTED}1`, limit: 100 })).toEqual([]);
    expect(names({ prefix: '', after: 'private-user.10', limit: 100 })).toEqual(['private-user.2', 'public']);
    // A resume point that has left since, or that sorts before the prefix.
    expect(names({ prefix: 'private-', after: 'private-t', limit: 100 })).toEqual(['private-user.1', 'private-user.10', 'private-user.2']);
    expect(names({ prefix: 'private-user.', after: 'a', limit: 100 })).toEqual(['private-user.1', 'private-user.10', 'private-user.2']);
  });

  it('pages: `next` only when more follow, each page at most `limit`', () => {
    const index = new ChannelIndex(UNLISTED, 4);
    for (let i = 0; i < 10; i++) index.set('a', `c${i}`, i + 1);
    expect(index.page('a', { prefix: '', limit: 10 }).next).toBeUndefined();
    expect(index.page('a', { prefix: '', limit: 9 }).next).toBe('c8');
    expect(index.page('a', { prefix: '', after: 'c8', limit: 1 })).toEqual({ names: ['c9'], subscriptionCounts: [10], next: undefined });
    for (const limit of [1, 2, 3, 5, 9, 10, 11]) {
      expect(listAll(index, 'a', '', limit)).toEqual(Array.from({ length: 10 }, (_, i) => [`c${i}`, i + 1]));
    }
  });

  it('pages across changes: a channel ahead of the cursor is seen, one behind it or gone is not', () => {
    const index = new ChannelIndex(UNLISTED, 2);
    for (const name of ['b', 'd', 'f', 'h']) index.set('a', name, 1);
    const first = index.page('a', { prefix: '', limit: 2 });
    expect(first.names).toEqual(['b', 'd']);
    index.set('a', 'a', 1);
    index.set('a', 'c', 1);
    index.set('a', 'd', 0);
    index.set('a', 'e', 1);
    index.set('a', 'f', 0);
    index.set('a', 'h', 7);
    expect(index.page('a', { prefix: '', after: first.next, limit: 10 })).toEqual({
      names: ['e', 'h'],
      subscriptionCounts: [1, 7],
      next: undefined,
    });
  });

  it('answers like a sorted filter of every channel, through random churn', () => {
    const rnd = random(14);
    const index = new ChannelIndex(UNLISTED, 8);
    const models = new Map<string, Map<string, number>>([
      ['a1', new Map()],
      ['a2', new Map()],
    ]);
    const shapes = ['private-user.', 'presence-room.', 'public-', UNLISTED, 'private-encrypted-'];
    const prefixes = ['', 'p', 'pr', 'private-', 'private-user.', 'private-user.1', 'presence-', 'public-9', '#', UNLISTED, 'q'];
    for (let step = 0; step < 6000; step++) {
      const appId = rnd(4) === 0 ? 'a2' : 'a1';
      const model = models.get(appId)!;
      const name = shapes[rnd(shapes.length)]! + rnd(400);
      const count = rnd(3) === 0 ? 0 : 1 + rnd(5);
      index.set(appId, name, count);
      if (count === 0) model.delete(name);
      else model.set(name, count);
      if (step % 500 === 499) {
        for (const [id, m] of models) {
          expect(index.size(id)).toBe(m.size);
          for (let k = 0; k < 50; k++) {
            const probe = shapes[rnd(shapes.length)]! + rnd(400);
            expect([probe, index.count(id, probe)]).toEqual([probe, m.get(probe) ?? 0]);
          }
          for (const prefix of prefixes) {
            const want = expected(m, prefix);
            expect(listAll(index, id, prefix, 1 + rnd(64))).toEqual(want);
            expect(listAll(index, id, prefix, 100_000)).toEqual(want);
          }
        }
      }
    }
  });

  it('lists 100k channels in pages in time that follows the matches', () => {
    const index = new ChannelIndex(UNLISTED);
    for (let i = 0; i < 100_000; i++) {
      index.set('a', `private-user.${i}`, 1);
      index.set('a', `${UNLISTED}${i}`, 1);
    }
    const matches = listAll(index, 'a', 'private-user.4', 4096);
    expect(matches).toHaveLength(11_111);
    expect(matches.every(([name]) => name.startsWith('private-user.4'))).toBe(true);
    expect(listAll(index, 'a', '', 4096)).toHaveLength(100_000);
    expect(index.size('a')).toBe(200_000);
  });
});
