/**
 * Heap bytes the channel index costs per channel, besides the channel's name:
 * `node --expose-gc --import tsx scripts/channel-index-memory.ts` (100k `private-user.{id}` channels,
 * once with one subscriber each, once shared). The README's memory figures come from here.
 */
import { USER_CHANNEL_PREFIX } from '../protocol/names.js';
import { ChannelIndex } from '../src/channels/channel-index.js';

const N = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = (): number => {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
};

const before = heap();
// Parsed, as names arrive in subscribe frames (a template literal would make a rope instead).
const names = Array.from({ length: N }, (_, i) => JSON.parse(`"private-user.${100_000 + i}"`) as string);
const perName = (heap() - before) / N - 8; // less the array's pointer
console.log(`name string (${names[0]!.length} characters): ${perName.toFixed(1)} bytes`);
const kept: ChannelIndex[] = [];
for (const subscribers of [1, 2]) {
  const start = heap();
  const index = new ChannelIndex(USER_CHANNEL_PREFIX);
  for (const name of names) index.set('app', name, subscribers);
  kept.push(index);
  const cost = (heap() - start) / N;
  console.log(`index, ${subscribers === 1 ? 'one subscriber' : 'shared'}: ${cost.toFixed(1)} bytes per channel besides its name`);
}
console.log(`(${kept.length} indexes of ${kept[0]!.size('app')} channels kept while measuring)`);
