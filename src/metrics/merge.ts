import type { AppStatsJson, StatsJson } from './json-stats.js';

/**
 * One Prometheus text exposition from several workers' expositions: every sample gains a
 * `worker` label, and each metric's HELP/TYPE lines appear once, before its first sample, as
 * the text format requires (samples of one metric must not be split by another's).
 */
export function mergeExpositions(parts: ReadonlyArray<{ worker: string; text: string }>): string {
  const order: string[] = [];
  const families = new Map<string, { meta: string[]; samples: string[] }>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { meta: [], samples: [] };
      families.set(name, f);
      order.push(name);
    }
    return f;
  };
  for (const { worker, text } of parts) {
    const label = `worker="${escapeLabel(worker)}"`;
    let current = '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        current = meta[2]!;
        const f = family(current);
        if (!f.meta.some((m) => m.startsWith(`# ${meta[1]} `))) f.meta.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const brace = line.indexOf('{');
      const space = line.indexOf(' ');
      const labelled = brace !== -1 && brace < space;
      const name = labelled ? line.slice(0, brace) : line.slice(0, space);
      // Histogram/summary samples (`_bucket`, `_sum`, `_count`) belong to the family announced last.
      const f = family(name.startsWith(current) && current !== '' ? current : name);
      f.samples.push(labelled ? `${name}{${label},${line.slice(brace + 1)}` : `${name}{${label}}${line.slice(space)}`);
    }
  }
  let out = '';
  for (const name of order) {
    const f = families.get(name)!;
    for (const line of f.meta) out += `${line}\n`;
    for (const line of f.samples) out += `${line}\n`;
  }
  return out;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * One `/stats` body from several workers' bodies. Connections and messages are each worker's own,
 * so they add up; channels and unique users come from Redis, which every worker reads whole, so
 * summing would count them once per worker: they are taken from the first worker that answered.
 */
export function mergeStatsJson(parts: readonly StatsJson[]): StatsJson {
  const [first, ...rest] = parts;
  if (first === undefined) return { ...emptyApp(), apps: {} };
  const out = structuredClone(first);
  for (const part of rest) {
    addOwn(out, part);
    for (const [appId, app] of Object.entries(part.apps)) {
      const mine = out.apps[appId];
      if (mine) addOwn(mine, app);
      else out.apps[appId] = structuredClone(app);
    }
  }
  return out;
}

function addOwn(into: AppStatsJson, from: AppStatsJson): void {
  into.connections.active += from.connections.active;
  into.messages.received += from.messages.received;
  into.messages.sent += from.messages.sent;
  into.messages.client_events += from.messages.client_events;
}

const emptyApp = (): AppStatsJson => ({
  connections: { active: 0, total_unique_users: 0 },
  channels: { occupied: 0, presence: 0 },
  messages: { received: 0, sent: 0, client_events: 0 },
});
