import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEV_APP_SOURCE, loadConfig, maskSecrets, type LoadOptions } from '../../src/config/load.js';
import { parseDotenv } from '../../src/config/dotenv.js';
import { serverSchema } from '../../src/config/schema.js';
import { redisTarget } from '../../src/cluster/redis-target.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function tmp(name: string, content: string): string {
  const file = join(dir, `${n++}-${name}`);
  writeFileSync(file, content);
  return file;
}
const json = (v: unknown): string => tmp('config.json', JSON.stringify(v));

const APP = { id: 'file-app', key: 'file-key', secret: 'file-secret' };

function errorsOf(opts: LoadOptions): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).toBe(e.errors.join('\n'));
    return e.errors;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults and precedence', () => {
  it('uses schema defaults with nothing set', () => {
    const { config, sources } = loadConfig({ env: {} });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.logLevel).toBe('info');
    expect(sources.port).toBeUndefined();
    expect(Object.values(sources).every((s) => s === DEV_APP_SOURCE)).toBe(true);
  });

  it('default < file < env-file < env < flag, for server and app options', () => {
    const configFile = json({ port: 1001, host: '10.0.0.1', apps: [{ ...APP, maxConnections: 1 }] });
    const envFile = tmp('.env', 'REVERB_SERVER_PORT=1002\nREVERB_SERVER_HOST=10.0.0.2\nREVERB_APP_MAX_CONNECTIONS=2\n');
    const env = { HERALD_PORT: '1003', HERALD_HOST: '10.0.0.3', HERALD_APP_MAX_CONNECTIONS: '3' };
    const flags = { port: 1004, host: '10.0.0.4' };

    const all = loadConfig({ configFile, envFile, env, flags });
    expect([all.config.port, all.config.host, all.config.apps[0]!.maxConnections]).toEqual([1004, '10.0.0.4', 3]);
    expect(all.sources.port).toBe('flag:--port');
    expect(all.sources.host).toBe('flag:--host');
    expect(all.sources['apps[0].maxConnections']).toBe('env:HERALD_APP_MAX_CONNECTIONS');

    const noFlags = loadConfig({ configFile, envFile, env });
    expect(noFlags.config.port).toBe(1003);
    expect(noFlags.sources.port).toBe('env:HERALD_PORT');

    const noEnv = loadConfig({ configFile, envFile, env: {} });
    expect([noEnv.config.port, noEnv.config.host, noEnv.config.apps[0]!.maxConnections]).toEqual([1002, '10.0.0.2', 2]);
    expect(noEnv.sources.port).toBe(`env-file:${envFile} (REVERB_SERVER_PORT)`);
    expect(noEnv.sources['apps[0].maxConnections']).toBe(`env-file:${envFile} (REVERB_APP_MAX_CONNECTIONS)`);
    // The env-file only touched maxConnections of apps[0]: the rest still comes from the file.
    expect(noEnv.config.apps[0]!.id).toBe('file-app');
    expect(noEnv.sources['apps[0].id']).toBe(`file:${configFile}`);

    const fileOnly = loadConfig({ configFile, env: {} });
    expect([fileOnly.config.port, fileOnly.config.apps[0]!.maxConnections]).toEqual([1001, 1]);
    expect(fileOnly.sources.port).toBe(`file:${configFile}`);
    expect(fileOnly.warnings).toEqual([]);
  });

  it('--debug sets logLevel debug over HERALD_LOG_LEVEL', () => {
    const { config, sources } = loadConfig({ env: { HERALD_LOG_LEVEL: 'warn' }, flags: { debug: true } });
    expect(config.logLevel).toBe('debug');
    expect(sources.logLevel).toBe('flag:--debug');
    expect(loadConfig({ env: { HERALD_LOG_LEVEL: 'warn' }, flags: { debug: false } }).config.logLevel).toBe('warn');
  });

  it('parses env booleans, numbers and comma lists; HERALD_APP_* apply on top of HERALD_APPS[0]', () => {
    const { config, sources } = loadConfig({
      env: {
        HERALD_APPS: JSON.stringify([APP, { id: 'two', key: 'two-key', secret: 'two-secret' }]),
        HERALD_APP_NAME: 'first',
        HERALD_APP_ALLOWED_ORIGINS: 'example.com, *.example.org,',
        HERALD_APP_REQUIRE_TLS: 'yes',
        HERALD_APP_ENABLED: 'OFF',
        HERALD_METRICS_ENABLED: '0',
        HERALD_LOG_PRETTY: 'on',
        HERALD_TLS_PASSPHRASE: '',
      },
    });
    expect(config.apps).toHaveLength(2);
    expect(config.apps[0]).toMatchObject({ id: 'file-app', name: 'first', allowedOrigins: ['example.com', '*.example.org'], requireTls: true, enabled: false });
    expect(config.apps[1]!.id).toBe('two');
    expect(config.metricsEnabled).toBe(false);
    expect(config.logPretty).toBe(true);
    expect(config.tlsPassphrase).toBeUndefined(); // empty = unset
    expect(sources['apps[1].key']).toBe('env:HERALD_APPS');
    expect(sources['apps[0].name']).toBe('env:HERALD_APP_NAME');
  });

  it('warns about unknown HERALD_* variables', () => {
    const { warnings } = loadConfig({ env: { HERALD_PROT: '1', ...{ HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's' } } });
    expect(warnings).toEqual(['unknown environment variable HERALD_PROT ignored']);
  });

  it('a deployment that pins the retired uWebSockets.js v20.30 starts on v20.4x, with a warning', () => {
    const { config, warnings } = loadConfig({ env: { HERALD_UWS: '20.30', HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's' } });
    expect(config.uws).toBe('20.4x');
    expect(warnings).toEqual([expect.stringMatching(/^uws: "20\.30" is no longer shipped .*using "20\.4x"/)]);
    expect(() => loadConfig({ env: { HERALD_UWS: '20.29', HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's' } })).toThrow(/uws/);
  });
});

describe('Laravel .env', () => {
  it('maps REVERB_* onto the options', () => {
    const envFile = tmp(
      '.env',
      [
        'APP_NAME=Laravel',
        'BROADCAST_CONNECTION=reverb',
        'REVERB_APP_ID=123456',
        'REVERB_APP_KEY=reverb-key',
        'REVERB_APP_SECRET=reverb-secret',
        'REVERB_HOST="localhost"',
        'REVERB_PORT=443',
        'REVERB_SCHEME=https',
        'REVERB_SERVER_HOST=127.0.0.1',
        'REVERB_SERVER_PORT=9090',
        'REVERB_SERVER_PATH=ws/',
        'REVERB_APP_ACTIVITY_TIMEOUT=30',
        'REVERB_APP_PING_INTERVAL=60',
        'REVERB_APP_MAX_CONNECTIONS=500',
        'REVERB_APP_MAX_MESSAGE_SIZE=10000',
        'REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=all',
        'REVERB_MAX_REQUEST_SIZE=10000',
        'VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"',
      ].join('\n'),
    );
    const { config, sources, warnings } = loadConfig({ envFile, env: {} });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({ host: '127.0.0.1', port: 9090, pathPrefix: '/ws', maxRequestSize: 10000 });
    expect(config.apps).toHaveLength(1);
    expect(config.apps[0]).toMatchObject({
      id: '123456',
      key: 'reverb-key',
      secret: 'reverb-secret',
      activityTimeout: 30,
      maxConnections: 500,
      maxMessageSize: 10000,
      clientEvents: 'all',
    });
    expect(sources['apps[0].secret']).toBe(`env-file:${envFile} (REVERB_APP_SECRET)`);
    expect(sources.pathPrefix).toBe(`env-file:${envFile} (REVERB_SERVER_PATH)`);
    expect(Object.values(sources).some((s) => s.includes('PING_INTERVAL'))).toBe(false);
  });

  it('normalizes REVERB_SERVER_PATH and treats an empty/null REVERB_APP_MAX_CONNECTIONS as unlimited', () => {
    const creds = 'REVERB_APP_ID=a\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n';
    const load = (extra: string) => loadConfig({ envFile: tmp('.env', creds + extra), env: {} }).config;
    expect(load('REVERB_SERVER_PATH=').pathPrefix).toBe('');
    expect(load('REVERB_SERVER_PATH=/').pathPrefix).toBe('');
    expect(load('REVERB_SERVER_PATH=/a/b//').pathPrefix).toBe('/a/b');
    expect(load('REVERB_SERVER_PATH="reverb"').pathPrefix).toBe('/reverb');
    const base = { configFile: json({ apps: [{ ...APP, maxConnections: 7 }] }), env: {} };
    expect(loadConfig({ ...base, envFile: tmp('.env', 'REVERB_APP_MAX_CONNECTIONS=') }).config.apps[0]!.maxConnections).toBe(0);
    expect(loadConfig({ ...base, envFile: tmp('.env', 'REVERB_APP_MAX_CONNECTIONS=null') }).config.apps[0]!.maxConnections).toBe(0);
  });

  it('uses PUSHER_APP_* when there is no REVERB_APP_*', () => {
    const envFile = tmp('.env', 'BROADCAST_DRIVER=pusher\nPUSHER_APP_ID=p-id\nPUSHER_APP_KEY=p-key\nPUSHER_APP_SECRET=p-secret\nPUSHER_APP_CLUSTER=mt1\n');
    const { config, sources, warnings } = loadConfig({ envFile, env: {} });
    expect(config.apps[0]).toMatchObject({ id: 'p-id', key: 'p-key', secret: 'p-secret' });
    expect(sources['apps[0].key']).toBe(`env-file:${envFile} (PUSHER_APP_KEY)`);
    expect(warnings).toEqual([]);
  });

  it('prefers REVERB_APP_* over PUSHER_APP_* with a warning (empty PUSHER_* is not "present")', () => {
    const both = tmp('.env', 'PUSHER_APP_ID=p-id\nPUSHER_APP_KEY=p-key\nPUSHER_APP_SECRET=p-secret\nREVERB_APP_ID=r-id\nREVERB_APP_KEY=r-key\nREVERB_APP_SECRET=r-secret\n');
    const r = loadConfig({ envFile: both, env: {} });
    expect(r.config.apps[0]).toMatchObject({ id: 'r-id', key: 'r-key', secret: 'r-secret' });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/REVERB_APP_\*.*PUSHER_APP_\*/);

    const emptyPusher = tmp('.env', 'PUSHER_APP_ID=\nPUSHER_APP_KEY=\nREVERB_APP_ID=r-id\nREVERB_APP_KEY=r-key\nREVERB_APP_SECRET=r-secret\n');
    expect(loadConfig({ envFile: emptyPusher, env: {} }).warnings).toEqual([]);
  });

  it('maps Redis for Reverb scaling and for the redis broadcaster, and nothing otherwise', () => {
    const creds = 'REVERB_APP_ID=a\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n';
    const load = (extra: string) => loadConfig({ envFile: tmp('.env', creds + extra), env: {} }).config;
    // A Laravel .env always has REDIS_HOST (cache, queues): alone it turns nothing on.
    expect(load('REDIS_HOST=10.0.0.5\n').redisUrl).toBeUndefined();
    const scaled = load('REVERB_SCALING_ENABLED=true\nREDIS_HOST=10.0.0.5\nREDIS_PORT=6380\nREDIS_USERNAME=herald\nREDIS_PASSWORD="p@ss word"\nREDIS_DB=2\n');
    expect(scaled.redisUrl).toBe('redis://herald:p%40ss%20word@10.0.0.5:6380/2');
    expect(scaled.scaling).toBe(true);
    expect(load('REVERB_SCALING_ENABLED=true\nREDIS_URL=rediss://:pw@redis.internal:6390/1\nREDIS_HOST=ignored\n').redisUrl).toBe('rediss://:pw@redis.internal:6390/1');
    expect(load('REVERB_SCALING_ENABLED=true\nREDIS_SCHEME=tls\nREDIS_PASSWORD=null\n').redisUrl).toBe('rediss://127.0.0.1:6379/0');
    const ingestOnly = load('BROADCAST_CONNECTION=redis\nREDIS_PASSWORD=secret\n');
    expect(ingestOnly.redisUrl).toBe('redis://:secret@127.0.0.1:6379/0');
    expect(ingestOnly.scaling).toBe(false);
    expect(load('BROADCAST_DRIVER=redis\nREVERB_SCALING_ENABLED=true\n').scaling).toBe(true);
  });

  it('workers: a count or auto, from env, file or flag; above 1 only with Redis', () => {
    const redis = { HERALD_REDIS_URL: 'redis://127.0.0.1:1/0' };
    expect(loadConfig({ env: {} }).config.workers).toBe(1);
    expect(loadConfig({ env: { ...redis, HERALD_WORKERS: '3' } }).config.workers).toBe(3);
    expect(loadConfig({ env: { HERALD_WORKERS: 'auto' } }).config.workers).toBe('auto');
    expect(loadConfig({ env: redis, flags: { workers: '2' } }).config.workers).toBe(2);
    expect(errorsOf({ env: { HERALD_WORKERS: 'many' } })).toEqual(['workers: expected a positive integer or "auto", got "many" (from HERALD_WORKERS)']);
    expect(errorsOf({ env: {}, flags: { workers: '2' } })).toEqual([
      'workers: above 1 needs redisUrl (--redis): workers without Redis could not see each other (from --workers)',
    ]);
  });

  it('cluster deadlines: defaults, fractional seconds from env, refusals', () => {
    const defaults = loadConfig({ env: {} }).config;
    expect([defaults.redisNodeTimeout, defaults.redisPresenceTimeout, defaults.redisQueueSize]).toEqual([30, 5, 10_000]);
    const env = { HERALD_REDIS_NODE_TIMEOUT: '1.5', HERALD_REDIS_PRESENCE_TIMEOUT: '0.25', HERALD_REDIS_QUEUE_SIZE: '0' };
    const fast = loadConfig({ env }).config;
    expect([fast.redisNodeTimeout, fast.redisPresenceTimeout, fast.redisQueueSize]).toEqual([1.5, 0.25, 0]);
    expect(errorsOf({ env: { HERALD_REDIS_NODE_TIMEOUT: '0' } }).join('\n')).toMatch(/redisNodeTimeout/);
    expect(errorsOf({ env: { HERALD_REDIS_QUEUE_SIZE: '1.5' } }).join('\n')).toMatch(/redisQueueSize/);
  });

  it('--redis wins over HERALD_REDIS_URL; a URL without a redis scheme is refused', () => {
    const env = { HERALD_REDIS_URL: 'redis://127.0.0.1:1/0' };
    expect(loadConfig({ env }).config.redisUrl).toBe('redis://127.0.0.1:1/0');
    const flagged = loadConfig({ env, flags: { redis: 'redis://127.0.0.1:2/0' } });
    expect(flagged.config.redisUrl).toBe('redis://127.0.0.1:2/0');
    expect(flagged.sources.redisUrl).toBe('flag:--redis');
    expect(errorsOf({ env: {}, flags: { redis: 'localhost:6379' } }).join('\n')).toMatch(/redisUrl.*redis:\/\//);
  });

  it('Redis Cluster seeds from HERALD_REDIS_CLUSTER, --redis-cluster or the file; credentials and TLS from rediss:// seeds or options', () => {
    const seeds = '10.0.0.1:7000, 10.0.0.2:7001,redis-3:7002';
    const { config } = loadConfig({ env: { HERALD_REDIS_CLUSTER: seeds, HERALD_WORKERS: '2' } });
    expect(redisTarget(config)).toEqual({
      kind: 'cluster',
      seeds: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: 'redis-3', port: 7002 }],
      node: {},
    });
    const flagged = loadConfig({ env: {}, flags: { redisCluster: 'rediss://herald:p%40ss@a:7000,b:7001' } });
    expect(flagged.sources.redisCluster).toBe('flag:--redis-cluster');
    expect(redisTarget(flagged.config)).toEqual({
      kind: 'cluster',
      seeds: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }],
      node: { username: 'herald', password: 'p@ss', tls: {} },
    });
    const configFile = json({ redisCluster: 'a:7000', redisPassword: 'pw', redisTls: true });
    expect(redisTarget(loadConfig({ configFile, env: {} }).config)).toEqual({ kind: 'cluster', seeds: [{ host: 'a', port: 7000 }], node: { password: 'pw', tls: {} } });
    expect(errorsOf({ env: { HERALD_REDIS_CLUSTER: 'a,b' } }).join('\n')).toMatch(/redisCluster: must be host:port seeds/);
  });

  it('Redis Sentinel from HERALD_REDIS_SENTINELS and HERALD_REDIS_SENTINEL_NAME; one Redis choice at a time', () => {
    const env = { HERALD_REDIS_SENTINELS: 's1:26379,s2:26379', HERALD_REDIS_SENTINEL_NAME: 'primary', HERALD_REDIS_SENTINEL_PASSWORD: 'spw', HERALD_REDIS_PASSWORD: 'pw' };
    expect(redisTarget(loadConfig({ env }).config)).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      name: 'primary',
      node: { password: 'pw' },
      sentinelPassword: 'spw',
    });
    expect(loadConfig({ env: { HERALD_REDIS_SENTINELS: 's1:26379' } }).config.redisSentinelName).toBe('mymaster');
    expect(redisTarget(loadConfig({ env: {} }).config)).toBeUndefined();
    expect(errorsOf({ env: { HERALD_REDIS_SENTINELS: 's1:26379', HERALD_REDIS_URL: 'redis://a:1/0' } }).join('\n')).toMatch(/set one of redisUrl, redisCluster and redisSentinels/);
  });

  it('parses quoting, escapes, comments, export and ${VAR} interpolation like phpdotenv', () => {
    const text = [
      '# a comment',
      '   # an indented comment',
      '',
      'A=plain # trailing comment',
      'B="double # not a comment" # but this is',
      "C='single ${A} \\n'",
      'D="${A}-and-${B}"',
      'E=${A}',
      'F=${UNDEFINED_VAR}',
      'export G=exported',
      'H=',
      'I=""',
      "J=''",
      'K="tab\\there \\"q\\" \\\\ \\$A"',
      'L = spaced',
      'M="first line',
      'second line"',
      'N=${FROM_ENV}',
      'O=1',
      'O=2',
      'P=a#b',
      'Q="${O}"',
    ].join('\n');
    const { values, errors } = parseDotenv(text, { FROM_ENV: 'env-value' });
    expect(errors).toEqual([]);
    expect(values).toEqual({
      A: 'plain',
      B: 'double # not a comment',
      C: 'single ${A} \\n',
      D: 'plain-and-double # not a comment',
      E: 'plain',
      F: '${UNDEFINED_VAR}',
      G: 'exported',
      H: '',
      I: '',
      J: '',
      K: 'tab\there "q" \\ $A',
      L: 'spaced',
      M: 'first line\nsecond line',
      N: 'env-value',
      O: '2',
      P: 'a',
      Q: '2',
    });
  });

  it('reports .env syntax errors with file and line', () => {
    const { errors } = parseDotenv('A=ok\nB=two words\nC="unterminated\n');
    expect(errors).toEqual(['line 2: B: unexpected whitespace (quote values that contain spaces)', 'line 3: missing closing quote']);
    const envFile = tmp('.env', 'REVERB_APP_ID=a b\n');
    expect(errorsOf({ envFile, env: {} })).toEqual([`env file ${envFile}: line 1: REVERB_APP_ID: unexpected whitespace (quote values that contain spaces)`]);
  });
});

describe('invalid values', () => {
  it('gives one line per problem naming the option, the expectation and the source', () => {
    const configFile = json({ port: '80', apps: [{ ...APP, clientEvents: 'some' }] });
    const errors = errorsOf({
      configFile,
      env: { HERALD_APP_MAX_CONNECTIONS: '-3', HERALD_METRICS_ENABLED: 'maybe', HERALD_PONG_TIMEOUT: '1e3', HERALD_APP_CACHE_TTL: '1.5' },
    });
    expect(errors.sort()).toEqual(
      [
        `port: expected an integer from 0 to 65535, got "80" (from config file ${configFile})`,
        `apps[0].clientEvents: expected one of none, members, all, got "some" (from config file ${configFile})`,
        'apps[0].maxConnections: expected a non-negative integer, got -3 (from HERALD_APP_MAX_CONNECTIONS)',
        'metricsEnabled: expected a boolean (true/false, 1/0, yes/no, on/off), got "maybe" (from HERALD_METRICS_ENABLED)',
        'pongTimeout: expected a positive integer, got "1e3" (from HERALD_PONG_TIMEOUT)',
        'apps[0].cacheTtl: expected a positive integer, got 1.5 (from HERALD_APP_CACHE_TTL)',
      ].sort(),
    );
  });

  it('names the .env variable and the flag', () => {
    const envFile = tmp('.env', 'REVERB_APP_ID=a\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\nREVERB_APP_ACTIVITY_TIMEOUT=soon\n');
    expect(errorsOf({ envFile, env: {}, flags: { port: 70000 } }).sort()).toEqual([
      `apps[0].activityTimeout: expected a positive integer, got "soon" (from REVERB_APP_ACTIVITY_TIMEOUT in ${envFile})`,
      'port: expected an integer from 0 to 65535, got 70000 (from --port)',
    ]);
  });

  it('never echoes secret values', () => {
    const configFile = json({ apps: [{ ...APP, secret: '', apiKeys: ['ok', ''] }] });
    const errors = errorsOf({ configFile, env: {} });
    expect(errors.sort()).toEqual([
      `apps[0].apiKeys[1]: expected a non-empty string (from config file ${configFile})`,
      `apps[0].secret: expected a non-empty string (from config file ${configFile})`,
    ]);
  });

  it('reports missing app credentials when only some are given', () => {
    const envFile = tmp('.env', 'REVERB_APP_ID=only-id\n');
    const errors = errorsOf({ envFile, env: {} });
    expect(errors).toEqual([
      `apps[0].key: required but not set (apps[0] is otherwise set by REVERB_APP_ID in ${envFile})`,
      `apps[0].secret: required but not set (apps[0] is otherwise set by REVERB_APP_ID in ${envFile})`,
    ]);
  });

  it('rejects unknown options, bad JSON and unreadable files', () => {
    const configFile = json({ prot: 1, apps: [{ ...APP, maxConections: 1 }] });
    expect(errorsOf({ configFile, env: {} })).toEqual([
      `prot: unknown option (from config file ${configFile})`,
      `apps[0].maxConections: unknown option (from config file ${configFile})`,
    ]);
    const broken = tmp('broken.json', '{"port": ');
    expect(errorsOf({ configFile: broken, env: {} })[0]).toMatch(new RegExp(`^config file ${broken}: invalid JSON: `));
    expect(errorsOf({ env: { HERALD_APPS: '[{' } })[0]).toMatch(/^apps: invalid JSON \(from HERALD_APPS\): /);
    expect(errorsOf({ configFile: join(dir, 'missing.json'), env: {} })).toEqual([`config file ${join(dir, 'missing.json')}: cannot read (ENOENT)`]);
    expect(errorsOf({ envFile: join(dir, 'missing.env'), env: {} })).toEqual([`env file ${join(dir, 'missing.env')}: cannot read (ENOENT)`]);
  });

  it('requires unique app ids and keys', () => {
    const configFile = json({ apps: [APP, { ...APP, secret: 'other' }, { id: 'x', key: 'file-key', secret: 'y' }] });
    expect(errorsOf({ configFile, env: {} }).sort()).toEqual([
      `apps[1].id: duplicate app id "file-app" (also apps[0].id) (from config file ${configFile})`,
      `apps[1].key: duplicate app key "file-key" (also apps[0].key) (from config file ${configFile})`,
      `apps[2].key: duplicate app key "file-key" (also apps[0].key) (from config file ${configFile})`,
    ]);
  });

  it('requires tlsCert and tlsKey together, and readable', () => {
    const cert = tmp('cert.pem', 'x');
    expect(errorsOf({ env: { HERALD_TLS_CERT: cert } })).toEqual(['tlsKey: required when tlsCert is set (set both or neither)']);
    expect(errorsOf({ env: { HERALD_TLS_KEY: cert } })).toEqual(['tlsCert: required when tlsKey is set (set both or neither)']);
    const missing = join(dir, 'nope.pem');
    expect(errorsOf({ env: { HERALD_TLS_CERT: cert, HERALD_TLS_KEY: missing } })).toEqual([
      `tlsKey: cannot read file ${missing} (ENOENT) (from HERALD_TLS_KEY)`,
    ]);
    expect(loadConfig({ env: { HERALD_TLS_CERT: cert, HERALD_TLS_KEY: cert } }).config.tlsKey).toBe(cert);
  });
});

describe('development app', () => {
  it('is used, loudly, when no app is configured', () => {
    const { config, sources, warnings } = loadConfig({ env: {} });
    expect(config.apps).toHaveLength(1);
    expect(config.apps[0]).toMatchObject({ id: 'app-id', key: 'app-key', secret: 'app-secret' });
    expect(sources['apps[0].key']).toBe(DEV_APP_SOURCE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('development app');
    expect(warnings[0]).toContain('"app-key"');
    expect(warnings[0]).toContain('"app-secret"');
    expect(warnings[0]).toMatch(/production/);
  });

  it('keeps app options given without credentials', () => {
    const { config, sources } = loadConfig({ env: { HERALD_APP_MAX_CONNECTIONS: '5' } });
    expect(config.apps[0]).toMatchObject({ id: 'app-id', maxConnections: 5 });
    expect(sources['apps[0].maxConnections']).toBe('env:HERALD_APP_MAX_CONNECTIONS');
  });

  it('is not used when an app is configured', () => {
    const { config, warnings } = loadConfig({ env: { HERALD_APP_ID: 'a', HERALD_APP_KEY: 'k', HERALD_APP_SECRET: 's' } });
    expect(config.apps.map((a) => a.id)).toEqual(['a']);
    expect(warnings).toEqual([]);
  });
});

describe('maskSecrets', () => {
  it('masks every secret option and leaves the rest alone', () => {
    const config = serverSchema.parse({
      tlsCert: '/etc/cert.pem',
      tlsKey: '/etc/key.pem',
      apps: [
        { id: 'a', key: 'key-a', secret: 'very-secret-value', apiKeys: ['api-key-one', 'api-key-two'] },
        { id: 'b', key: 'key-b', secret: 'short' },
      ],
    });
    const masked = maskSecrets(config);
    expect(masked.tlsKey).toBe('****em');
    expect(masked.tlsCert).toBe('/etc/cert.pem');
    expect(masked.tlsPassphrase).toBeUndefined();
    expect(masked.apps[0]).toMatchObject({ id: 'a', key: 'key-a', secret: '****ue', apiKeys: ['****ne', '****wo'] });
    expect(masked.apps[1]).toMatchObject({ secret: '****', apiKeys: [] });
    expect(config.apps[0]!.secret).toBe('very-secret-value'); // a copy
    expect(JSON.stringify(masked)).not.toContain('very-secret-value');
  });
});
