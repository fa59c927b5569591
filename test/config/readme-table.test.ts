import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTable, extractConfigTable, replaceConfigTable, TABLE_END, TABLE_START } from '../../src/config/docs.js';
import { listOptions } from '../../src/config/load.js';

describe('README config table', () => {
  it('matches configTable() (run `npm run docs:config` to update README.md)', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const region = extractConfigTable(readme);
    expect(region, `README.md must contain ${TABLE_START} … ${TABLE_END}`).toBeDefined();
    expect(region).toBe(configTable());
  });

  it('has one row per server option and per app option', () => {
    const rows = configTable().split('\n').slice(2);
    expect(rows).toHaveLength(listOptions().length);
    expect(rows).toContainEqual('| `port` | `HERALD_PORT` | `8080` | Port for WebSockets and the HTTP API (0 = any free port). |');
    expect(rows.some((r) => r.startsWith('| `apps[].maxConnections` | `HERALD_APP_MAX_CONNECTIONS` | `0` |'))).toBe(true);
    expect(rows.some((r) => r.startsWith('| `apps[].secret` | `HERALD_APP_SECRET` | required |'))).toBe(true);
  });

  it('replaces only the marked region', () => {
    const doc = `# T\n\nbefore\n${TABLE_START}\nold\n${TABLE_END}\nafter\n`;
    expect(replaceConfigTable(doc, 'NEW')).toBe(`# T\n\nbefore\n${TABLE_START}\nNEW\n${TABLE_END}\nafter\n`);
    expect(() => replaceConfigTable('no markers')).toThrow(/config-table:start/);
  });
});
