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
