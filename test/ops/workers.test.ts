import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsJson } from '../../src/metrics/json-stats.js';
import { mergeExpositions, mergeStatsJson } from '../../src/metrics/merge.js';
import { signUser } from '../../protocol/signing.js';
import { cleanEnv } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { RawClient } from '../helpers/raw-client.js';
import type { TestHerald } from '../helpers/herald.js';
import { trigger, until } from '../ws/helpers.js';

const root = join(import.meta.dirname, '..', '..');
const APP_ENV = { HERALD_APP_ID: 'app-id', HERALD_APP_KEY: 'app-key', HERALD_APP_SECRET: 'app-secret', HERALD_HOST: '127.0.0.1' };

function herald(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: root,
    env: { ...cleanEnv, ...APP_ENV, HERALD_LOG_LEVEL: process.env.HERALD_TEST_LOG ?? 'warn', ...env },
    stdio: ['ignore', process.env.HERALD_TEST_LOG ? 'inherit' : 'pipe', 'pipe'],
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

/** The supervisor's Herald workers: forked with its `start …` arguments (tsx's esbuild service, also a child, is not one). */
const childPids = (pid: number): Promise<number[]> =>
  new Promise((resolve) =>
    execFile('pgrep', ['-P', String(pid), '-f', 'src/cli.ts start'], (_err, stdout) => resolve(stdout.split('\n').filter(Boolean).map(Number))),
  );

async function scrape(port: number): Promise<string> {
  const reply = await fetch(`http://127.0.0.1:${port}/metrics`);
  return reply.text();
}

/** `herald_connections{worker="i",app="app-id"} n` per worker. */
function connectionsPerWorker(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^herald_connections\{worker="(\d+)",app="app-id"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe('herald start --workers', { timeout: 90_000 }, () => {
  it('refuses more than one worker without Redis, in one line', async () => {
    const [two, auto] = await Promise.all([
      exited(herald(['start', '--workers', '2', '--port', '0'])),
      exited(herald(['start', '--workers', 'auto', '--port', '0'])),
    ]);
    expect(two.code).toBe(1);
    expect(two.stderr.trim().split('\n')).toEqual(['workers: above 1 needs redisUrl (--redis): workers without Redis could not see each other (from --workers)']);
    // This box has 2 cores, so auto means 2.
    expect(auto.code).toBe(1);
    expect(auto.stderr).toMatch(/^workers: \d+ workers \(auto\) need redisUrl \(--redis\)/);
  });

  describe('two workers on one port', () => {
    let redis: TestRedis;
    let supervisor: ChildProcess;
    let port: number;
    let metricsPort: number;
    let exit: Promise<{ code: number | null; stderr: string }>;
    const clients: RawClient[] = [];
    const socketIds: string[] = [];

    beforeAll(async () => {
      redis = await startRedis();
      [port, metricsPort] = [await freePort(), await freePort()];
      supervisor = herald(['start', '--workers', '2', '--redis', redis.url, '--port', String(port)], {
        HERALD_METRICS_PORT: String(metricsPort),
        HERALD_SHUTDOWN_GRACE_PERIOD: '2',
      });
      exit = exited(supervisor);
      await until(async () => connectionsPerWorker(await scrape(metricsPort).catch(() => '')).size === 2, 45_000, 'both workers');
      // The hook's own limit must not cut the wait above short (vitest's default is 30 s; two workers under tsx on a busy box take longer).
    }, 50_000);

    afterAll(async () => {
      supervisor.kill('SIGKILL');
      await redis.stop();
    });

    it('both workers accept connections on the shared port; one scrape covers them', async () => {
      for (let i = 0; i < 24; i++) {
        const { client, socketId } = await RawClient.established(port);
        clients.push(client);
        socketIds.push(socketId);
      }
      await until(async () => [...connectionsPerWorker(await scrape(metricsPort)).values()].reduce((a, b) => a + b, 0) === 24, 5000, '24 connections');
      const perWorker = connectionsPerWorker(await scrape(metricsPort));
      // The kernel spreads connections over the SO_REUSEPORT group: 24 on one worker has odds of 2^-23.
      expect(perWorker.get('0')).toBeGreaterThan(0);
      expect(perWorker.get('1')).toBeGreaterThan(0);
    });

    it('an event triggered on one worker reaches subscribers on both, through Redis', async () => {
      const frame = JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'news' } });
      for (const c of clients) c.ws.send(frame);
      await Promise.all(clients.map((c) => c.next('pusher_internal:subscription_succeeded')));
      // The REST call lands on one worker; about half the subscribers are on the other.
      const h = { app: { id: 'app-id', key: 'app-key', secret: 'app-secret' }, url: `http://127.0.0.1:${port}` } as TestHerald;
      await trigger(h, 'news', 'headline', '{"n":1}');
      const got = await Promise.all(clients.map((c) => c.next('headline')));
      expect(got.map((f) => f.data)).toEqual(clients.map(() => '{"n":1}'));
    });

    it('GET /stats on the metrics port totals both workers, counting cluster-wide users and channels once', async () => {
      // Three users, each signed in on eight connections spread over both workers.
      clients.forEach((c, i) => {
        const userData = JSON.stringify({ id: `u${i % 3}` });
        c.send({ event: 'pusher:signin', data: { auth: signUser('app-key', 'app-secret', socketIds[i]!, userData), user_data: userData } });
      });
      await Promise.all(clients.map((c) => c.next('pusher:signin_success')));
      const stats = async (path = '/stats', accept?: string) =>
        (await fetch(`http://127.0.0.1:${metricsPort}${path}`, { headers: accept ? { Accept: accept } : {} })).json() as Promise<StatsJson>;
      await until(async () => (await stats()).connections.total_unique_users === 3, 5000, 'the sign-ins in Redis');

      const perWorker = connectionsPerWorker(await scrape(metricsPort));
      expect([...perWorker.values()].every((n) => n > 0 && n < 24)).toBe(true);
      // Each client sent a subscribe and a signin, and got connection_established, subscription_succeeded, headline and signin_success.
      const totals = { connections: { active: 24, total_unique_users: 3 }, channels: { occupied: 1, presence: 0 }, messages: { received: 48, sent: 96, client_events: 0 } };
      const body = await stats();
      expect(body).toEqual({ ...totals, apps: { 'app-id': totals } });
      expect(await stats('/metrics', 'application/json')).toEqual(body);
    });

        it('GET /stats answers 503 rather than partial totals while the workers cannot read Redis', async () => {
      await redis.stop({ keepData: true });
      const down = await fetch(`http://127.0.0.1:${metricsPort}/stats`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ error: expect.stringMatching(/^stats unavailable from worker [01](, [01])?$/) });
      // The Prometheus scrape keeps answering from each worker.
      expect(connectionsPerWorker(await scrape(metricsPort)).size).toBe(2);
      await redis.start();
      await until(async () => (await fetch(`http://127.0.0.1:${metricsPort}/stats`)).status === 200, 10_000, 'stats back with Redis');
      const back = (await (await fetch(`http://127.0.0.1:${metricsPort}/stats`)).json()) as StatsJson;
      expect(back.connections).toEqual({ active: 24, total_unique_users: 3 });
    });

        it('a worker killed with SIGKILL is restarted', async () => {
      const before = await childPids(supervisor.pid!);
      expect(before).toHaveLength(2);
      process.kill(before[0]!, 'SIGKILL');
      await until(async () => {
        const now = await childPids(supervisor.pid!);
        return now.length === 2 && !now.includes(before[0]!);
      }, 10_000, 'a new worker');
      await until(async () => connectionsPerWorker(await scrape(metricsPort).catch(() => '')).size === 2, 30_000, 'the new worker ready');
      const { client } = await RawClient.established(port);
      clients.push(client);
    });

    it('SIGTERM drains every worker with 4200 and the supervisor exits 0', async () => {
      const open = clients.filter((c) => c.closeCode === undefined);
      expect(open.length).toBeGreaterThan(0);
      supervisor.kill('SIGTERM');
      const codes = await Promise.all(open.map((c) => c.closed));
      expect(new Set(codes)).toEqual(new Set([4200]));
      expect((await exit).code).toBe(0);
    });
  });
});

describe('mergeExpositions', () => {
  it('labels every sample with its worker and keeps one HELP/TYPE per metric, before its samples', () => {
    const a = '# HELP c A counter.\n# TYPE c counter\nc 1\n# HELP g A gauge.\n# TYPE g gauge\ng{app="x"} 2\n';
    const b = '# HELP c A counter.\n# TYPE c counter\nc 3\n# HELP g A gauge.\n# TYPE g gauge\ng{app="x"} 4\n';
    expect(mergeExpositions([{ worker: '0', text: a }, { worker: '1', text: b }])).toBe(
      '# HELP c A counter.\n# TYPE c counter\nc{worker="0"} 1\nc{worker="1"} 3\n' +
        '# HELP g A gauge.\n# TYPE g gauge\ng{worker="0",app="x"} 2\ng{worker="1",app="x"} 4\n',
    );
  });

  it('keeps histogram series with their family', () => {
    const h = '# HELP h Lag.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n';
    const merged = mergeExpositions([{ worker: '0', text: h }, { worker: '1', text: h }]);
    expect(merged.split('\n').filter((l) => l.startsWith('#'))).toEqual(['# HELP h Lag.', '# TYPE h histogram']);
    expect(merged).toContain('h_bucket{worker="1",le="+Inf"} 2\n');
    expect(merged).toContain('h_count{worker="0"} 2\n');
  });
});

describe('mergeStatsJson', () => {
  const part = (active: number, users: number, occupied: number, sent: number) => {
    const app = { connections: { active, total_unique_users: users }, channels: { occupied, presence: 1 }, messages: { received: 1, sent, client_events: 2 } };
    return { ...structuredClone(app), apps: { a: app } };
  };

  it("adds each worker's connections and messages, and takes the Redis-wide users and channels once", () => {
    const merged = mergeStatsJson([part(3, 5, 4, 10), part(2, 5, 4, 7)]);
    const app = { connections: { active: 5, total_unique_users: 5 }, channels: { occupied: 4, presence: 1 }, messages: { received: 2, sent: 17, client_events: 4 } };
    expect(merged).toEqual({ ...app, apps: { a: app } });
  });

  it('answers zeros when no worker answered', () => {
    expect(mergeStatsJson([])).toMatchObject({ connections: { active: 0, total_unique_users: 0 }, apps: {} });
  });
});
