import { defaultOf, listOptions } from './load.js';

/** Markers around the generated table in README.md (see scripts/config-table.ts). */
export const TABLE_START = '<!-- config-table:start -->';
export const TABLE_END = '<!-- config-table:end -->';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function code(s: string): string {
  const fence = s.includes('`') ? '``' : '`';
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/**
 * The options table for the README, generated from the schema: one row per server option, then one row
 * per app option as `apps[].<name>` (its env var sets the first app).
 */
export function configTable(): string {
  const rows = listOptions().map((o) => {
    const d = defaultOf(o.schema);
    const dflt = d.kind === 'value' ? code(JSON.stringify(d.value)) : d.kind === 'required' ? 'required' : '—';
    return `| ${code(o.path)} | ${code(o.meta.env)} | ${cell(dflt)} | ${cell(o.meta.doc)}${o.meta.secret ? ' *(secret: masked by `herald config`)*' : ''} |`;
  });
  return ['| Option | Env | Default | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** `readme` with the text between the markers replaced by the current table; throws if a marker is missing. */
export function replaceConfigTable(readme: string, table: string = configTable()): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md must contain ${TABLE_START} and ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}

/** The text between the markers, trimmed, or undefined when the markers are missing. */
export function extractConfigTable(readme: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end === -1 || end < start) return undefined;
  return readme.slice(start + TABLE_START.length, end).trim();
}
