// With uWebSockets.js on its JavaScript fallback (no native build for this Node), Herald says so and
// serves no Socket.IO, rather than attaching socket.io to an app that cannot carry it.
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';

it('HERALD_APP_SOCKETIO with the uWS fallback: an error line, no Socket.IO, Herald starts', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, UWS_USE_FALLBACK: '1', HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's', HERALD_APP_SOCKETIO: 'true', HERALD_METRICS_ENABLED: 'false', HERALD_LOG_PRETTY: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /"port":(\d+),"apps"/.exec(output);
        if (listening) {
          clearTimeout(timer);
          resolve(Number(listening[1]));
        }
      });
    });
    expect(output).toContain('Socket.IO is not enabled: uWebSockets.js fell back to its JavaScript implementation');
    expect(output).not.toContain('Socket.IO clients accepted');
  } finally {
    child.kill('SIGKILL');
  }
}, 40_000);
