#!/usr/bin/env -S node --max-semi-space-size=1
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// Config, logger and server modules are imported lazily so that --help and --version stay instant.
import type { LoadOptions, LoadResult } from './config/load.js';

const SOURCE_FLAGS = `Config sources (later wins): defaults < --config < --env-file < HERALD_* env < flags
  --config FILE      JSON config file (same shape as the config schema)
  --env-file FILE    Laravel .env file: REVERB_* (or PUSHER_APP_*) mapped onto options
  --host HOST        address to bind (overrides HERALD_HOST)
  --port PORT        port to bind (overrides HERALD_PORT)
  --redis URL        Redis for scale-out and ingest, redis://[user:pass@]host:port[/db] (overrides HERALD_REDIS_URL)
  --redis-cluster SEEDS  Redis Cluster seeds instead, host:port,host:port,… (overrides HERALD_REDIS_CLUSTER)
  --workers N|auto   Herald processes sharing the port, one per core with auto (needs Redis)
  --debug            log level debug
  -h, --help         show this help`;

const PROGRAM_HELP = `herald: a Pusher Channels protocol server

Usage:
  herald start  [options]   start the server
  herald config [options]   print the effective config (secrets masked) and where each value came from
  herald check  [options]   validate the config and the install: prints "ok", or one line per problem and exits 1

Options:
  -h, --help       show help (also: herald <command> --help)
  -v, --version    print the version

Every option, its HERALD_* variable and default: see the Configuration section of README.md.`;

const COMMAND_HELP: Record<string, string> = {
  start: `Usage: herald start [options]

Starts the server. SIGTERM/SIGINT close every connection (4200) and exit; a second signal exits at once.

${SOURCE_FLAGS}`,
  config: `Usage: herald config [options]

Prints the effective config as JSON: {"config": …, "sources": …}. Secret options are masked; "sources" names
where every option that is not at its default came from. Warnings go to stderr.

${SOURCE_FLAGS}`,
  check: `Usage: herald check [options]

Validates the config and that a native uWebSockets.js build loads on this Node and platform. Prints "ok"
(warnings on stderr) and exits 0, or prints one line per problem on stderr and exits 1.

${SOURCE_FLAGS}`,
};

const OPTIONS = {
  config: { type: 'string' },
  'env-file': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  redis: { type: 'string' },
  'redis-cluster': { type: 'string' },
  workers: { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'herald' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function parseCommandArgs(args: string[]): { help: boolean; load: LoadOptions } {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port.trim())) throw new UsageError(`--port expects a port number, got ${JSON.stringify(values.port)}`);
    port = Number(values.port.trim());
  }
  return {
    help: values.help === true,
    load: {
      configFile: values.config,
      envFile: values['env-file'],
      env: process.env,
      flags: { host: values.host, port, debug: values.debug, redis: values.redis, redisCluster: values['redis-cluster'], workers: values.workers },
    },
  };
}

/** Loads the config or prints the problems (one per line) on stderr and exits 1. */
async function load(opts: LoadOptions): Promise<LoadResult> {
  const { ConfigError, loadConfig } = await import('./config/load.js');
  try {
    return loadConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.errors) process.stderr.write(`${line}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Loads the uWebSockets.js build the config asks for, or prints why none loads (one line) and exits 1. */
async function requireUws(config: Pick<LoadResult['config'], 'uws' | 'maxRequestHeadSize'>): Promise<void> {
  const { loadUws, UwsUnavailableError } = await import('./transport/engine.js');
  try {
    loadUws(config.uws, config.maxRequestHeadSize);
  } catch (err) {
    if (err instanceof UwsUnavailableError) {
      process.stderr.write(`herald: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function start(opts: LoadOptions, args: readonly string[]): Promise<void> {
  const { config, sources, warnings } = await load(opts);
  await requireUws(config);
  const { DEV_APP_SOURCE } = await import('./config/load.js');
  const { createLogger } = await import('./log.js');
  const { supervise, workerCount, workerIndex } = await import('./workers/supervisor.js');
  const { redisConfigured } = await import('./cluster/redis-target.js');
  const worker = workerIndex();
  const count = worker === undefined ? workerCount(config.workers) : 1;
  if (count > 1 && !redisConfigured(config)) {
    process.stderr.write(`workers: ${count} workers (${String(config.workers)}) need redisUrl (--redis): workers without Redis could not see each other\n`);
    process.exit(1);
  }
  const root = createLogger(config);
  if (count > 1) return supervise(config, count, args, root);
  const logger = worker === undefined ? root : root.child({ worker });
  // The supervisor serves every worker's metrics on the configured port and scrapes each one here.
  if (worker !== undefined) Object.assign(config, { metricsHost: '127.0.0.1', metricsPort: 0 });
  for (const w of warnings) {
    if (worker !== undefined && worker > 0) break;
    if (w === warnings.find((x) => x.startsWith('No apps configured')) && sources['apps[0].key'] === DEV_APP_SOURCE) {
      const app = config.apps[0]!;
      logger.warn({ devApp: { id: app.id, key: app.key, secret: app.secret } }, `INSECURE DEVELOPMENT APP IN USE. ${w}`);
    } else {
      logger.warn(w);
    }
  }

  const { startServer } = await import('./server.js');
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger, { sharedPort: worker !== undefined });
    process.send?.({ type: 'herald:ready', metricsPort: server.metricsPort });
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down (send the signal again to exit at once)');
    server.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function printConfig(opts: LoadOptions): Promise<void> {
  const { config, sources, warnings } = await load(opts);
  const { maskSecrets } = await import('./config/load.js');
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${JSON.stringify({ config: maskSecrets(config), sources }, null, 2)}\n`);
}

async function check(opts: LoadOptions): Promise<void> {
  const { config, warnings } = await load(opts);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  await requireUws(config);
  process.stdout.write('ok\n');
}

function usageError(message: string, help: string = PROGRAM_HELP): never {
  process.stderr.write(`herald: ${message}\n\n${help}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined) usageError('missing command');
  if (command === '-h' || command === '--help') {
    process.stdout.write(`${PROGRAM_HELP}\n`);
    return;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const help = COMMAND_HELP[command];
  if (help === undefined) usageError(command.startsWith('-') ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`);

  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(rest);
  } catch (err) {
    if (err instanceof UsageError) usageError(err.message, help);
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${help}\n`);
    return;
  }
  if (command === 'start') await start(parsed.load, rest);
  else if (command === 'config') await printConfig(parsed.load);
  else await check(parsed.load);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`herald: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
