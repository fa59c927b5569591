/**
 * A real Redis Cluster of the test's own: `masters` redis-servers with `--cluster-enabled yes` on
 * free ports, joined by `redis-cli --cluster create … --cluster-replicas 0`, plus optionally one
 * replica for each of the first `replicas` masters (so a test can kill a master and watch its
 * replica take over). The node timeout is short so that a failover takes about a second.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { readFileSync } from 'node:fs';
import { parseInfo, portOutsideEphemeralRange, startRedis, type RedisTls, type TestRedis } from './redis.js';

const run = promisify(execFile);

export interface RedisClusterOptions {
  masters?: number;
  /** One replica each for the first `replicas` masters. */
  replicas?: number;
  /** `cluster-node-timeout` (ms): how long a silent master takes to be failed over. */
  nodeTimeoutMs?: number;
  /** `requirepass` (and `masterauth`) on every node. */
  password?: string;
  /** TLS only, the cluster bus included. */
  tls?: RedisTls;
}

export interface TestRedisCluster {
  /** `127.0.0.1:port,…` of the masters, as `HERALD_REDIS_CLUSTER` takes them. */
  readonly seeds: string;
  /** Every server, masters first (in creation order), then replicas. */
  readonly servers: TestRedis[];
  /** The server currently serving `key`'s slot as master. */
  masterOf(key: string): Promise<TestRedis>;
  /** Resolves once every running node reports `cluster_state:ok` and agrees on who serves `key` (after a failover). */
  waitHealthy(key?: string): Promise<void>;
  /** An ioredis Cluster client (disconnected by `close()`). */
  client(): Cluster;
  /** CPU seconds (user + sys) used by every running server, summed. */
  cpuSeconds(): Promise<number>;
  close(): Promise<void>;
}

export async function startRedisCluster({ masters = 3, replicas = 0, nodeTimeoutMs = 500, password, tls }: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const secure = [...(tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []), ...(password !== undefined ? ['--masterauth', password] : [])];
  const cli = [...(tls ? ['--tls', '--cacert', tls.caFile] : []), ...(password !== undefined ? ['-a', password, '--no-auth-warning'] : [])];
  // The bus port is chosen too: the default (port + 10000) could be any other process's.
  const busPorts = new Map<TestRedis, number>();
  const launch = async () => {
    const busPort = await portOutsideEphemeralRange();
    const server = await startRedis({
      password,
      tls,
      args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', String(nodeTimeoutMs), '--cluster-port', String(busPort), '--cluster-config-file', 'nodes.conf', ...secure],
    });
    busPorts.set(server, busPort);
    return server;
  };
  const servers: TestRedis[] = await Promise.all(Array.from({ length: masters + replicas }, launch));
  const clients: Cluster[] = [];
  const address = (s: TestRedis) => `127.0.0.1:${s.port}`;
  const masterServers = servers.slice(0, masters);
  try {
    await run('redis-cli', [...cli, '--cluster', 'create', ...masterServers.map(address), '--cluster-replicas', '0', '--cluster-yes']);
    for (const replica of servers.slice(masters)) await replica.command('CLUSTER', 'MEET', '127.0.0.1', servers[0]!.port, busPorts.get(servers[0]!)!);
    for (const [i, replica] of servers.slice(masters).entries()) {
      const id = String(await masterServers[i]!.command('CLUSTER', 'MYID'));
      // The replica must first learn the master's id through the cluster bus.
      await until(async () => (await replica.command('CLUSTER', 'REPLICATE', id).then(() => true, () => false)), `replica of ${address(masterServers[i]!)}`);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }

  const serverAt = (port: number) => servers.find((s) => s.port === port)!;
  const cluster: TestRedisCluster = {
    seeds: masterServers.map(address).join(','),
    servers,
    async masterOf(key) {
      const slot = Number(await firstRunning().command('CLUSTER', 'KEYSLOT', key));
      const ranges = (await firstRunning().command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return serverAt(Number(range[2][1]));
    },
    async waitHealthy(key) {
      await until(async () => {
        const running = servers.filter((s) => s.running);
        const states = await Promise.all(running.map((s) => s.command('CLUSTER', 'INFO').then(String, () => '')));
        if (!states.every((info) => parseInfo(info).get('cluster_state') === 'ok')) return false;
        if (key === undefined) return true;
        const master = await cluster.masterOf(key);
        return master.running && String(await master.command('ROLE').then((r) => (r as string[])[0], () => '')) === 'master';
      }, 'cluster_state:ok');
    },
    client() {
      const c = new Cluster(cluster.seeds.split(',').map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })), {
        clusterRetryStrategy: () => 100,
        retryDelayOnFailover: 100,
        redisOptions: { maxRetriesPerRequest: 1, password, ...(tls ? { tls: { ca: readFileSync(tls.caFile) } } : {}) },
      });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async cpuSeconds() {
      const infos = await Promise.all(servers.filter((s) => s.running).map((s) => s.command('INFO', 'cpu').then(String)));
      return infos.map(parseInfo).reduce((sum, f) => sum + Number(f.get('used_cpu_user')) + Number(f.get('used_cpu_sys')), 0);
    },
    async close() {
      for (const c of clients.splice(0)) c.disconnect();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
  const firstRunning = () => servers.find((s) => s.running) ?? servers[0]!;
  await cluster.waitHealthy();
  // A replica counts once it is in sync: only then does killing its master fail over without loss.
  for (const replica of servers.slice(masters)) {
    await until(async () => parseInfo(String(await replica.command('INFO', 'replication'))).get('master_link_status') === 'up', 'replica in sync');
  }
  return cluster;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`redis cluster: no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
