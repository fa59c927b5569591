/**
 * Rewrites the config table between `<!-- config-table:start -->` and `<!-- config-table:end -->` in README.md
 * from the schema (`npm run docs:config`). With `--check`, exits 1 instead of writing when it is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replaceConfigTable } from '../src/config/docs.js';

const readmePath = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
const check = process.argv.includes('--check');

const before = readFileSync(readmePath, 'utf8');
let after: string;
try {
  after = replaceConfigTable(before);
} catch (err) {
  console.error(`${readmePath}: ${(err as Error).message}`);
  process.exit(1);
}
if (after === before) {
  console.log('README.md config table is up to date');
} else if (check) {
  console.error('README.md config table is out of date: run `npm run docs:config`');
  process.exit(1);
} else {
  writeFileSync(readmePath, after);
  console.log('README.md config table updated');
}
