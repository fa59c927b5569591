import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
/** The test runner's own HERALD_* variables would leak into the server's config. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_')));

/** `herald start …args` as its own process (the CLI from source); resolves once it logs that it listens. */
export function startHeraldProcess(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', ...args], {
    cwd: root,
    env: { ...cleanEnv, HERALD_METRICS_ENABLED: 'false' },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Herald listening')) resolve(child);
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`herald exited (${code}) before listening:\n${out}`)));
  });
}
