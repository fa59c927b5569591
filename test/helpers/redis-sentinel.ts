/**
 * A primary, a replica and one Sentinel of the test's own on free ports, with a short
 * `down-after-milliseconds` and quorum 1, so that killing the primary promotes the replica within
 * a couple of seconds. With `tls` all three speak TLS only (replication and the sentinel's own
 * links included); with `password` the data nodes and the sentinel each require their own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { until } from './clients.js';
import { eventually, expectInOrderOnce, subscribersOn, tickTraffic, ticks } from './cluster-clients.js';
import type { ClusterNode } from './cluster.js';
import { parseInfo, portOutsideEphemeralRange, startRedis, type RedisTls, type TestRedis } from './redis.js';

export const SENTINEL_NAME = 'herald-primary';

export interface TestSentinel {
  /** `127.0.0.1:port` of the sentinel, as `HERALD_REDIS_SENTINELS` takes it. */
  readonly sentinels: string;
  readonly primary: TestRedis;
  readonly replica: TestRedis;
  /** The port of the primary the sentinel names now. */
  primaryPort(): Promise<number>;
  close(): Promise<void>;
}

export interface SentinelOptions {
  downAfterMs?: number;
  tls?: RedisTls;
  /** `requirepass` (and `masterauth`) of the primary and the replica. */
  password?: string;
  /** The sentinel's own `requirepass`. */
  sentinelPassword?: string;
}

export async function startSentinel({ downAfterMs = 300, tls, password, sentinelPassword }: SentinelOptions = {}): Promise<TestSentinel> {
  const replicationTls = tls ? ['--tls-replication', 'yes'] : [];
  const masterAuth = password === undefined ? [] : ['--masterauth', password];
  // The old primary rejoins as a replica after a failover, so both carry the replication settings.
  const primary = await startRedis({ tls, password, args: [...replicationTls, ...masterAuth] });
  const replica = await startRedis({ tls, password, args: [...replicationTls, ...masterAuth, '--replicaof', '127.0.0.1', String(primary.port)] });
  const port = await portOutsideEphemeralRange();
  const dir = mkdtempSync(join(tmpdir(), 'herald-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      ...(tls
        ? ['port 0', `tls-port ${port}`, `tls-cert-file ${tls.certFile}`, `tls-key-file ${tls.keyFile}`, `tls-ca-cert-file ${tls.caFile}`, 'tls-auth-clients no', 'tls-replication yes']
        : [`port ${port}`]),
      'bind 127.0.0.1',
      `dir ${dir}`,
      ...(sentinelPassword === undefined ? [] : [`requirepass "${sentinelPassword}"`]),
      `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primary.port} 1`,
      ...(password === undefined ? [] : [`sentinel auth-pass ${SENTINEL_NAME} "${password}"`]),
      `sentinel down-after-milliseconds ${SENTINEL_NAME} ${downAfterMs}`,
      `sentinel failover-timeout ${SENTINEL_NAME} 2000`,
      '',
    ].join('\n'),
  );
  const proc = spawn('redis-server', [conf, '--sentinel', '--loglevel', 'warning'], { stdio: 'ignore' });
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const client = new Redis({
    host: '127.0.0.1',
    port,
    password: sentinelPassword,
    ...(tls ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  });
  client.on('error', () => undefined);

  const sentinel: TestSentinel = {
    sentinels: `127.0.0.1:${port}`,
    primary,
    replica,
    async primaryPort() {
      const [, p] = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as [string, string];
      return Number(p);
    },
    async close() {
      client.disconnect();
      proc.kill('SIGKILL');
      await exited;
      process.off('exit', reap);
      await Promise.all([primary.close(), replica.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Ready once the replica is in sync and the sentinel knows it (a failover needs a replica to promote).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const synced = parseInfo(String(await replica.command('INFO', 'replication'))).get('master_link_status') === 'up';
    const known = synced && ((await client.call('SENTINEL', 'REPLICAS', SENTINEL_NAME).catch(() => [])) as unknown[]).length > 0;
    if (known) return sentinel;
    if (Date.now() > deadline) {
      await sentinel.close();
      throw new Error('sentinel: replica not in sync or not known to the sentinel within 20 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Ticks published through `from` reach a subscriber on each of `nodes`; once they flow the primary
 * is killed. Resolves when the sentinel names the replica and every subscriber has ticks sent
 * after that, each once and in order.
 */
export async function killPrimaryUnderTraffic(sentinel: TestSentinel, nodes: ClusterNode[], from: ClusterNode): Promise<void> {
  const clients = await subscribersOn(nodes, 'live');
  const traffic = tickTraffic(from, 'live');
  await until(() => clients.every((c) => ticks(c, 'live').length > 10), 'traffic flowing', 10_000);

  await sentinel.primary.kill();
  await eventually(() => sentinel.primaryPort(), sentinel.replica.port, 15_000);

  const after = traffic.sent() + 20;
  await until(() => clients.every((c) => ticks(c, 'live').some((i) => i >= after)), 'delivery resumed on every node', 15_000);
  await traffic.stop();
  for (const client of clients) expectInOrderOnce(ticks(client, 'live'));
}
