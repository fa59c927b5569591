/**
 * ioredis's `class VerbatimString extends String` turns String.prototype into a dictionary-mode
 * object in V8, which sends every string method call of optimized code through a generic lookup
 * (src/fast-strings.ts). Checked in a child process with V8's own predicate for it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const src = (path: string) => JSON.stringify(pathToFileURL(`${ROOT}/${path}`).href);

function run(script: string): Record<string, boolean> {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NODE_ENV: 'test' },
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, boolean>;
}

describe('String.prototype stays a fast object', () => {
  it('ioredis alone makes it slow (the reason for keepStringMethodsFast; drop both when this fails)', () => {
    expect(run(`await import('ioredis'); console.log(JSON.stringify({ fast: %HasFastProperties(String.prototype) }));`)).toEqual({ fast: false });
  });

  it('a started server has it fast although ioredis is loaded, and it stays fast', () => {
    const result = run(`
      import { pino } from 'pino';
      const { startServer } = await import(${src('src/server.ts')});
      const { serverSchema } = await import(${src('src/config/schema.ts')});
      const before = %HasFastProperties(String.prototype);
      const config = serverSchema.parse({ host: '127.0.0.1', port: 0, apps: [{ id: 'a', key: 'k', secret: 's' }] });
      await startServer(config, pino({ level: 'silent' }));
      const after = %HasFastProperties(String.prototype);
      class LaterHeir extends String {}
      const afterAnotherHeir = %HasFastProperties(String.prototype);
      console.log(JSON.stringify({ before, after, afterAnotherHeir }));
      process.exit(0);
    `);
    expect(result).toEqual({ before: false, after: true, afterAnotherHeir: true });
  });
});
