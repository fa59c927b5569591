import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
/** The test runner's environment without HERALD_* keys, so only what a test passes configures the CLI. */
export const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_')));

/** Runs `herald start <args>` from the sources and resolves once its output contains `readyText`. */
export function startCli(args: string[], readyText = 'Herald listening', env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', ...args], {
    cwd: root,
    env: { ...cleanEnv, HERALD_METRICS_ENABLED: 'false', ...env },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(readyText)) resolve(child);
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`herald exited (${code}) before "${readyText}":\n${out}`)));
  });
}
