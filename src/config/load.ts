import { accessSync, constants, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { parseDotenv } from './dotenv.js';
import { appSchema, developmentApp, serverSchema, webhookSchema, WORKER_ENV, type HeraldConfig, type OptionMeta } from './schema.js';

/**
 * Loads the effective config. Sources, later winning:
 * schema defaults < JSON config file < Laravel `.env` file < `HERALD_*` environment variables < CLI flags.
 */
export interface LoadOptions {
  /** JSON file shaped like the serverSchema input (`--config`). */
  configFile?: string;
  /** Laravel `.env` file (`--env-file`): REVERB_* / PUSHER_* are mapped onto our options. */
  envFile?: string;
  /** Environment to read `HERALD_*` from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  flags?: { host?: string; port?: number; debug?: boolean; redis?: string; redisCluster?: string; workers?: string };
}

export interface LoadResult {
  config: HeraldConfig;
  /** Option path (`port`, `apps[0].key`) → where its value came from. Options left at their default are absent. */
  sources: Record<string, string>;
  warnings: string[];
}

/** Invalid configuration; `errors` holds one line per problem, `message` is those lines joined. */
export class ConfigError extends Error {
  readonly errors: string[];
  constructor(errors: string[]) {
    super(errors.join('\n'));
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

export const DEV_APP_SOURCE = 'built-in development app';

/** v20.30 (`@trufflesuite/uws-js-unofficial`), replaced on Node 20 by v20.4x. */
const RETIRED_UWS = { value: '20.30', replacement: '20.4x' } as const;

// ---------------------------------------------------------------------------------------------
// Schema introspection (zod 4 internals, read-only). Shared with docs.ts.

interface CheckDef {
  check: string;
  format?: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
}
interface LooseDef {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  entries?: Record<string, string | number>;
  checks?: { _zod: { def: CheckDef } }[];
  defaultValue?: unknown;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
  values?: unknown[];
}

const defOf = (schema: z.ZodType): LooseDef => (schema as unknown as { _zod: { def: LooseDef } })._zod.def;

const WRAPPERS = new Set(['default', 'optional', 'nullable', 'prefault', 'readonly', 'nonoptional', 'catch']);

/** The schema under default/optional/… wrappers. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let d = defOf(s); WRAPPERS.has(d.type) && d.innerType; d = defOf(s)) s = d.innerType;
  return s;
}

export interface OptionInfo {
  /** `port`, or `apps[].maxConnections` for app options. */
  path: string;
  key: string;
  scope: 'server' | 'app';
  schema: z.ZodType;
  meta: OptionMeta;
}

function metaOf(schema: z.ZodType): OptionMeta {
  const meta = schema.meta() as OptionMeta | undefined;
  if (!meta?.env) throw new Error('config schema option without env meta');
  return meta;
}

const serverShape = serverSchema.shape as unknown as Record<string, z.ZodType>;
const appShape = appSchema.shape as unknown as Record<string, z.ZodType>;

/** Every option of the schema: server options in schema order, then app options. */
export function listOptions(): OptionInfo[] {
  const server = Object.entries(serverShape).map(
    ([key, schema]): OptionInfo => ({ path: key, key, scope: 'server', schema, meta: metaOf(schema) }),
  );
  const app = Object.entries(appShape).map(
    ([key, schema]): OptionInfo => ({ path: `apps[].${key}`, key, scope: 'app', schema, meta: metaOf(schema) }),
  );
  return [...server, ...app];
}

/** `{ kind: 'value' }` with the default, `optional` (no default, may be unset) or `required`. */
export type DefaultInfo = { kind: 'value'; value: unknown } | { kind: 'optional' } | { kind: 'required' };

export function defaultOf(schema: z.ZodType): DefaultInfo {
  const def = defOf(schema);
  if (def.type === 'default' || def.type === 'prefault') {
    const v = def.defaultValue;
    return { kind: 'value', value: typeof v === 'function' ? (v as () => unknown)() : v };
  }
  const r = schema.safeParse(undefined);
  if (r.success) return r.data === undefined ? { kind: 'optional' } : { kind: 'value', value: r.data };
  return { kind: 'required' };
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}

/** Human description of what an option accepts, e.g. "a non-negative integer". */
export function describeExpected(schema: z.ZodType, fromEnv = false): string {
  const s = unwrapSchema(schema);
  const def = defOf(s);
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  switch (def.type) {
    case 'number': {
      const int = checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
      const noun = int ? 'integer' : 'number';
      const min = checks.find((c) => c.check === 'greater_than');
      const max = checks.find((c) => c.check === 'less_than');
      if (min && max) return `${article(noun)} from ${min.value} to ${max.value}`;
      if (min && min.value === 0) return `${min.inclusive ? 'a non-negative' : 'a positive'} ${noun}`;
      if (min && min.value === 1 && min.inclusive && int) return 'a positive integer';
      if (min) return `${article(noun)} ${min.inclusive ? '>=' : '>'} ${min.value}`;
      if (max) return `${article(noun)} ${max.inclusive ? '<=' : '<'} ${max.value}`;
      return article(noun);
    }
    case 'boolean':
      return fromEnv ? 'a boolean (true/false, 1/0, yes/no, on/off)' : 'a boolean';
    case 'string': {
      const minLen = checks.find((c) => c.check === 'min_length');
      return minLen && (minLen.minimum ?? 0) > 0 ? 'a non-empty string' : 'a string';
    }
    case 'enum':
      return `one of ${Object.values(def.entries ?? {}).join(', ')}`;
    case 'array': {
      const el = def.element ? unwrapSchema(def.element) : undefined;
      if (el && defOf(el).type === 'object') return fromEnv ? 'a JSON array of objects' : 'an array of objects';
      return fromEnv ? 'a comma-separated list' : 'an array of strings';
    }
    case 'object':
      return 'an object';
    case 'union':
      return (def.options ?? []).map((o) => describeExpected(o, fromEnv)).join(' or ');
    case 'literal':
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(' or ');
    default:
      return def.type;
  }
}

// ---------------------------------------------------------------------------------------------
// Value coercion for string sources (env vars, .env file).

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const NUMBER_RE = /^-?\d+(\.\d+)?$/;

/**
 * Turns a string into the option's type. Values that do not parse are returned unchanged so that
 * validation reports them with the option's expectation.
 */
function coerceString(schema: z.ZodType, raw: string): unknown {
  const def = defOf(unwrapSchema(schema));
  const v = raw.trim();
  switch (def.type) {
    case 'number':
    case 'union':
      return NUMBER_RE.test(v) ? Number(v) : raw;
    case 'boolean': {
      const w = v.toLowerCase();
      return TRUE_WORDS.has(w) ? true : FALSE_WORDS.has(w) ? false : raw;
    }
    case 'array':
      if (def.element && defOf(unwrapSchema(def.element)).type === 'object') return parseJsonOr(raw);
      return v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    default:
      return raw;
  }
}

function parseJsonOr(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * `HERALD_APP_WEBHOOK_HEADERS`: a JSON object, or `Name: value` pairs separated by newlines or `;`
 * (what fits in one line of a `.env` or a docker-compose `environment:` entry).
 */
export function parseHeaderList(raw: string): Record<string, string> {
  const text = raw.trim();
  if (text.startsWith('{')) {
    const parsed: unknown = JSON.parse(text);
    if (!isObj(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) throw new Error('expected a JSON object of strings');
    return parsed as Record<string, string>;
  }
  const headers: Record<string, string> = {};
  for (const entry of text.split(/[\n;]/)) {
    if (entry.trim() === '') continue;
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon).trim();
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`expected "Name: value", got ${JSON.stringify(entry.trim())}`);
    headers[name] = entry.slice(colon + 1).trim();
  }
  return headers;
}

/** Laravel's `Str::slug($name, '_')`, which names the default Redis prefix (`{slug}_database_`). */
export function laravelSlug(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/@/g, '_at_')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

// ---------------------------------------------------------------------------------------------
// Loading.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

type Path = readonly PropertyKey[];
function formatPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Human text for a source label, used in error lines: `(from HERALD_PORT)`. */
function describeSource(label: string): string {
  if (label.startsWith('env:')) return label.slice(4);
  if (label.startsWith('flag:')) return label.slice(5);
  if (label.startsWith('file:')) return `config file ${label.slice(5)}`;
  const m = /^env-file:(.*) \(([^)]+)\)$/.exec(label);
  if (m) return `${m[2]} in ${m[1]}`;
  return label;
}

function schemaAt(path: Path): z.ZodType | undefined {
  let s: z.ZodType = serverSchema;
  for (const p of path) {
    const def = defOf(unwrapSchema(s));
    let next: z.ZodType | undefined;
    if (def.type === 'object' && typeof p === 'string') next = def.shape?.[p];
    else if (def.type === 'array' && typeof p === 'number') next = def.element;
    if (!next) return undefined;
    s = next;
  }
  return s;
}

function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function isSecretPath(path: Path): boolean {
  for (let i = path.length; i > 0; i--) {
    const s = schemaAt(path.slice(0, i));
    const meta = s?.meta() as OptionMeta | undefined;
    if (meta?.secret) return true;
  }
  return false;
}

function repr(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function loadLayerLabelFor(path: Path, sources: Record<string, string>): string | undefined {
  for (let i = path.length; i > 0; i--) {
    const label = sources[formatPath(path.slice(0, i))];
    if (label) return label;
  }
  return undefined;
}

/** Checks a JSON object's keys against the schema; unknown options are errors (typos must not pass silently). */
function checkKeys(obj: Obj, shape: Record<string, z.ZodType>, prefix: Path, label: string, errors: string[]): void {
  for (const key of Object.keys(obj)) {
    if (key.startsWith('$')) continue; // "$schema", "$comment"
    if (!(key in shape)) errors.push(`${formatPath([...prefix, key])}: unknown option (from ${describeSource(label)})`);
  }
}

function checkAppsInput(apps: unknown, label: string, errors: string[]): void {
  if (!Array.isArray(apps)) return;
  apps.forEach((app, i) => {
    if (isObj(app)) checkKeys(app, appShape, ['apps', i], label, errors);
  });
}

function recordAppSources(apps: unknown, label: string, sources: Record<string, string>): void {
  for (const k of Object.keys(sources)) if (k.startsWith('apps[') || k === 'apps') delete sources[k];
  if (!Array.isArray(apps)) {
    sources.apps = label;
    return;
  }
  apps.forEach((app, i) => {
    if (isObj(app)) for (const k of Object.keys(app)) if (!k.startsWith('$')) sources[`apps[${i}].${k}`] = label;
  });
}

function readText(file: string, what: string, errors: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    errors.push(`${what} ${file}: cannot read (${code ?? (err as Error).message})`);
    return undefined;
  }
}

/** Laravel's env() helper: `null`/`(null)` mean unset, `empty`/`(empty)` mean ''. */
function laravelValue(v: string | undefined): string | null {
  if (v === undefined) return null;
  const w = v.toLowerCase();
  if (w === 'null' || w === '(null)') return null;
  if (w === 'empty' || w === '(empty)') return '';
  return v;
}

function normalizePathPrefix(p: string): string {
  let s = p.trim();
  if (s === '') return '';
  if (!s.startsWith('/')) s = `/${s}`;
  return s.replace(/\/+$/, '');
}

/** The documented single-webhook env keys; they replace `apps[0].webhooks` with that one webhook. */
export const WEBHOOK_ENV = { url: 'HERALD_APP_WEBHOOK_URL', events: 'HERALD_APP_WEBHOOK_EVENTS', headers: 'HERALD_APP_WEBHOOK_HEADERS' } as const;

function webhookFromEnv(
  env: Record<string, string | undefined>,
  envLabel: (name: string) => string,
  known: Set<string>,
  setApp: (key: string, value: unknown, label: string) => void,
  errors: string[],
): void {
  const value = (name: string) => (env[name]?.trim() ? env[name]!.trim() : undefined);
  for (const name of Object.values(WEBHOOK_ENV)) known.add(name);
  const url = value(WEBHOOK_ENV.url);
  if (url === undefined) {
    for (const name of [WEBHOOK_ENV.events, WEBHOOK_ENV.headers]) {
      if (value(name) !== undefined) errors.push(`apps[0].webhooks: ${name} is set but ${WEBHOOK_ENV.url} is not (from ${describeSource(envLabel(name))})`);
    }
    return;
  }
  const webhook: Obj = { url };
  const events = value(WEBHOOK_ENV.events);
  if (events !== undefined) webhook.events = coerceString(webhookSchema.shape.events, events);
  const headers = value(WEBHOOK_ENV.headers);
  if (headers !== undefined) {
    try {
      webhook.headers = parseHeaderList(headers);
    } catch (err) {
      errors.push(`apps[0].webhooks: ${(err as Error).message} (from ${describeSource(envLabel(WEBHOOK_ENV.headers))})`);
    }
  }
  setApp('webhooks', [webhook], envLabel(WEBHOOK_ENV.url));
}

export function loadConfig(opts: LoadOptions = {}): LoadResult {
  const processEnv = opts.env ?? process.env;
  /** `HERALD_*` keys from the `--env-file`, under the real environment. */
  const fileEnv: Record<string, string> = {};
  let envFileName = '';
  const input: Obj = {};
  const sources: Record<string, string> = {};
  const errors: string[] = [];
  const warnings: string[] = [];
  /** apps[0] was created by env-file/env app options rather than by a config file or HERALD_APPS. */
  let app0Synthetic = false;

  const setServer = (key: string, value: unknown, label: string): void => {
    input[key] = value;
    sources[key] = label;
  };
  const app0 = (): Obj => {
    if (!Array.isArray(input.apps)) input.apps = [];
    const apps = input.apps as unknown[];
    if (apps.length === 0) {
      apps.push({});
      app0Synthetic = true;
    }
    if (!isObj(apps[0])) apps[0] = {};
    return apps[0] as Obj;
  };
  const setApp = (key: string, value: unknown, label: string): void => {
    app0()[key] = value;
    sources[`apps[0].${key}`] = label;
  };

  // 1. JSON config file.
  if (opts.configFile !== undefined) {
    const file = resolve(opts.configFile);
    const label = `file:${file}`;
    const text = readText(file, 'config file', errors);
    if (text !== undefined) {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (err) {
        errors.push(`config file ${file}: invalid JSON: ${(err as Error).message}`);
      }
      if (data !== undefined && !isObj(data)) {
        errors.push(`config file ${file}: expected a JSON object of options, got ${Array.isArray(data) ? 'an array' : repr(data)}`);
      } else if (isObj(data)) {
        checkKeys(data, serverShape, [], label, errors);
        checkAppsInput(data.apps, label, errors);
        for (const [key, value] of Object.entries(data)) {
          if (key.startsWith('$') || !(key in serverShape)) continue;
          input[key] = structuredClone(value);
          if (key === 'apps') recordAppSources(value, label, sources);
          else sources[key] = label;
        }
      }
    }
  }

  // 2. Laravel .env file.
  if (opts.envFile !== undefined) {
    const file = resolve(opts.envFile);
    const text = readText(file, 'env file', errors);
    if (text !== undefined) {
      const parsed = parseDotenv(text, processEnv);
      for (const e of parsed.errors) errors.push(`env file ${file}: ${e}`);
      const vals = parsed.values;
      const label = (name: string): string => `env-file:${file} (${name})`;
      const get = (name: string): string | null => laravelValue(vals[name]);
      const present = (name: string): boolean => {
        const v = get(name);
        return v !== null && v !== '';
      };

      const credentialKeys = ['ID', 'KEY', 'SECRET'] as const;
      const hasReverb = credentialKeys.some((k) => present(`REVERB_APP_${k}`));
      const hasPusher = credentialKeys.some((k) => present(`PUSHER_APP_${k}`));
      if (hasReverb && hasPusher) {
        warnings.push(`${file} sets both REVERB_APP_* and PUSHER_APP_*: using REVERB_APP_ID/KEY/SECRET, ignoring PUSHER_APP_*`);
      }
      const prefix = hasReverb ? 'REVERB_APP_' : hasPusher ? 'PUSHER_APP_' : undefined;
      if (prefix) {
        for (const k of credentialKeys) {
          const name = `${prefix}${k}`;
          if (present(name)) setApp(k.toLowerCase(), get(name), label(name));
        }
      }

      const mapString = (name: string, apply: (v: string, l: string) => void, emptyAs?: string): void => {
        let v = get(name);
        if ((v === null || v === '') && emptyAs !== undefined && name in vals) v = emptyAs;
        if (v === null || v === '') return;
        apply(v, label(name));
      };
      mapString('REVERB_SERVER_HOST', (v, l) => setServer('host', v, l));
      mapString('REVERB_SERVER_PORT', (v, l) => setServer('port', coerceString(serverShape.port!, v), l));
      if (get('REVERB_SERVER_PATH') !== null) {
        setServer('pathPrefix', normalizePathPrefix(get('REVERB_SERVER_PATH')!), label('REVERB_SERVER_PATH'));
      }
      mapString('REVERB_MAX_REQUEST_SIZE', (v, l) => setServer('maxRequestSize', coerceString(serverShape.maxRequestSize!, v), l));
      const appNum = (name: string, key: string, emptyAs?: string): void =>
        mapString(name, (v, l) => setApp(key, coerceString(appShape[key]!, v), l), emptyAs);
      appNum('REVERB_APP_ACTIVITY_TIMEOUT', 'activityTimeout');
      appNum('REVERB_APP_MAX_CONNECTIONS', 'maxConnections', '0');
      appNum('REVERB_APP_MAX_MESSAGE_SIZE', 'maxMessageSize');
      mapString('REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM', (v, l) => setApp('clientEvents', v.trim().toLowerCase(), l));
      // REVERB_APP_PING_INTERVAL and the rest have no equivalent here: ignored.

      // Redis: Reverb's scaling switch, or Laravel's own redis broadcaster (which Herald ingests).
      const scalingOn = (get('REVERB_SCALING_ENABLED') ?? '').trim().toLowerCase() === 'true';
      const broadcaster = (get('BROADCAST_CONNECTION') ?? get('BROADCAST_DRIVER') ?? '').trim().toLowerCase();
      // An app on the reverb/pusher driver that also publishes through Redis asks for ingest alone.
      const ingestAsked = (processEnv.HERALD_REDIS_INGEST ?? vals.HERALD_REDIS_INGEST ?? '').trim().toLowerCase() === 'laravel';
      if (scalingOn || broadcaster === 'redis' || ingestAsked) {
        const from = present('REDIS_URL') ? 'REDIS_URL' : 'REDIS_HOST';
        setServer('redisUrl', laravelRedisUrl(get), label(from));
        if (!scalingOn) {
          const why = broadcaster === 'redis' ? (present('BROADCAST_CONNECTION') ? 'BROADCAST_CONNECTION' : 'BROADCAST_DRIVER') : 'HERALD_REDIS_INGEST';
          setServer('scaling', false, label(why));
        }
      }
      if (broadcaster === 'redis') setServer('redisIngest', 'laravel', label(present('BROADCAST_CONNECTION') ? 'BROADCAST_CONNECTION' : 'BROADCAST_DRIVER'));
      // config/database.php: 'prefix' => env('REDIS_PREFIX', Str::slug(env('APP_NAME', 'laravel'), '_').'_database_').
      if (get('REDIS_PREFIX') !== null) setServer('redisIngestPrefix', get('REDIS_PREFIX'), label('REDIS_PREFIX'));
      else if (present('APP_NAME')) setServer('redisIngestPrefix', `${laravelSlug(get('APP_NAME')!)}_database_`, label('APP_NAME'));

      envFileName = file;
      for (const [name, value] of Object.entries(vals)) if (name.startsWith('HERALD_')) fileEnv[name] = value;
    }
  }

  // 3. HERALD_* environment variables (and those written in the --env-file, which the real environment overrides).
  const env: Record<string, string | undefined> = { ...fileEnv, ...processEnv };
  const envLabel = (name: string): string =>
    processEnv[name] === undefined && fileEnv[name] !== undefined ? `env-file:${envFileName} (${name})` : `env:${name}`;
  const known = new Set<string>([WORKER_ENV]);
  const appsEnv = metaOf(serverShape.apps!).env;
  known.add(appsEnv);
  const appsJson = env[appsEnv];
  if (appsJson !== undefined && appsJson.trim() !== '') {
    const label = envLabel(appsEnv);
    try {
      const apps: unknown = JSON.parse(appsJson);
      checkAppsInput(apps, label, errors);
      input.apps = apps;
      app0Synthetic = false;
      recordAppSources(apps, label, sources);
    } catch (err) {
      errors.push(`apps: invalid JSON (from ${appsEnv}): ${(err as Error).message}`);
    }
  }
  for (const [key, schema] of Object.entries(serverShape)) {
    if (key === 'apps') continue;
    const name = metaOf(schema).env;
    known.add(name);
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    setServer(key, coerceString(schema, raw), envLabel(name));
  }
  for (const [key, schema] of Object.entries(appShape)) {
    const name = metaOf(schema).env;
    known.add(name);
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    setApp(key, coerceString(schema, raw), envLabel(name));
  }
  webhookFromEnv(env, envLabel, known, setApp, errors);
  for (const name of Object.keys(env)) {
    if (name.startsWith('HERALD_') && !known.has(name)) warnings.push(`unknown environment variable ${name} ignored`);
  }

  // 4. Flags.
  const flags = opts.flags ?? {};
  if (flags.host !== undefined) setServer('host', flags.host, 'flag:--host');
  if (flags.port !== undefined) setServer('port', flags.port, 'flag:--port');
  if (flags.debug) setServer('logLevel', 'debug', 'flag:--debug');
  if (flags.redis !== undefined) setServer('redisUrl', flags.redis, 'flag:--redis');
  if (flags.redisCluster !== undefined) setServer('redisCluster', flags.redisCluster, 'flag:--redis-cluster');
  if (flags.workers !== undefined) setServer('workers', coerceString(serverShape.workers!, flags.workers), 'flag:--workers');

  // 5. Development app when no app is configured (app options from env/.env alone still apply to it).
  const apps = input.apps;
  const identity = ['id', 'key', 'secret'];
  const first = Array.isArray(apps) ? apps[0] : undefined;
  const noApps = apps === undefined || (Array.isArray(apps) && apps.length === 0);
  const onlyLimits = app0Synthetic && Array.isArray(apps) && apps.length === 1 && isObj(first) && identity.every((k) => !(k in first));
  if (noApps || onlyLimits) {
    const base = structuredClone(developmentApp) as Obj;
    input.apps = [{ ...base, ...(isObj(first) && onlyLimits ? first : {}) }];
    for (const k of Object.keys(base)) sources[`apps[0].${k}`] = DEV_APP_SOURCE;
    warnings.push(
      `No apps configured: using the built-in development app (id "${developmentApp.id}", key "${developmentApp.key}", secret "${developmentApp.secret}"). ` +
        'It is a development app with a public key and secret: anyone can connect and sign requests with them. Never use it in production; ' +
        'configure apps with HERALD_APP_ID/HERALD_APP_KEY/HERALD_APP_SECRET, HERALD_APPS, REVERB_APP_* in --env-file, or "apps" in --config.',
    );
  }

  // 6. Validate. A build that is no longer shipped, pinned by an older deployment, maps to the one
  // that replaced it rather than stopping the start.
  if (input.uws === RETIRED_UWS.value) {
    input.uws = RETIRED_UWS.replacement;
    warnings.push(`uws: "${RETIRED_UWS.value}" is no longer shipped (it left a request that is not HTTP unanswered); using "${RETIRED_UWS.replacement}", the build for Node 20/22 on glibc 2.27 or later`);
  }
  const result = serverSchema.safeParse(input);
  if (!result.success) {
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      const line = issueLine(issue, input, sources);
      if (!seen.has(line)) {
        seen.add(line);
        errors.push(line);
      }
    }
  }
  if (errors.length > 0 || !result.success) throw new ConfigError(errors);
  const config = result.data;

  // 7. Checks that need the file system, and warnings about odd but valid combinations.
  for (const key of ['tlsCert', 'tlsKey'] as const) {
    const file = config[key];
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      const label = sources[key];
      errors.push(`${key}: cannot read file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})${label ? ` (from ${describeSource(label)})` : ''}`);
    }
  }
  if (errors.length > 0) throw new ConfigError(errors);
  config.apps.forEach((app, i) => {
    if (app.maxMessageSize > config.maxPayloadLength) {
      warnings.push(
        `apps[${i}].maxMessageSize (${app.maxMessageSize}) is above maxPayloadLength (${config.maxPayloadLength}): frames between the two close the socket instead of getting pusher:error`,
      );
    }
  });

  return { config, sources, warnings };
}

function issueLine(issue: z.core.$ZodIssue, input: Obj, sources: Record<string, string>): string {
  const path = issue.path;
  const where = formatPath(path);
  const schema = schemaAt(path);
  const value = valueAt(input, path);
  const label = loadLayerLabelFor(path, sources);
  const fromEnv = label !== undefined && (label.startsWith('env:') || label.startsWith('env-file:')) && label !== 'env:HERALD_APPS';
  const secret = isSecretPath(path);
  const got = value === undefined || secret ? '' : `, got ${repr(value)}`;
  let problem: string;
  let from = label ? ` (from ${describeSource(label)})` : '';
  if (issue.code === 'unrecognized_keys') {
    problem = `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  } else if (issue.code === 'custom') {
    problem = issue.message;
    if (got && typeof value === 'string' && !problem.includes(JSON.stringify(value))) problem += got;
  } else if (value === undefined) {
    problem = 'required but not set';
    if (!label && path.length > 1) {
      const parent = formatPath(path.slice(0, -1));
      const sibling = Object.entries(sources).find(([k]) => k.startsWith(`${parent}.`));
      if (sibling) from = ` (${parent} is otherwise set by ${describeSource(sibling[1])})`;
    }
  } else if (schema) {
    problem = `expected ${describeExpected(schema, fromEnv)}${got}`;
  } else {
    problem = issue.message;
  }
  return `${where || '(config)'}: ${problem}${from}`;
}

// ---------------------------------------------------------------------------------------------
// Masking.

function maskValue(v: unknown): unknown {
  if (typeof v === 'string') return v.length >= 8 ? `****${v.slice(-2)}` : '****';
  if (Array.isArray(v)) return v.map(maskValue);
  // Secret objects (webhooks) keep their shape; what they send as headers (X-API-Key, tokens) is masked.
  if (isObj(v) && isObj(v.headers)) return { ...v, headers: Object.fromEntries(Object.entries(v.headers).map(([k, h]) => [k, maskValue(h)])) };
  return v;
}

/**
 * A copy of the config with every secret option (meta.secret) replaced by `****` plus its last 2 characters
 * (just `****` for values shorter than 8 characters, which would otherwise be mostly revealed).
 * Unset options stay unset, empty arrays stay empty.
 */
export function maskSecrets(config: HeraldConfig): HeraldConfig {
  const out = structuredClone(config) as unknown as Obj;
  for (const [key, schema] of Object.entries(serverShape)) {
    if ((schema.meta() as OptionMeta | undefined)?.secret && out[key] !== undefined) out[key] = maskValue(out[key]);
  }
  for (const app of out.apps as Obj[]) {
    for (const [key, schema] of Object.entries(appShape)) {
      if ((schema.meta() as OptionMeta | undefined)?.secret && app[key] !== undefined) app[key] = maskValue(app[key]);
    }
  }
  return out as unknown as HeraldConfig;
}

/**
 * Laravel's Redis settings as one URL: `REDIS_URL` when set, else `REDIS_HOST`/`REDIS_PORT`/
 * `REDIS_USERNAME`/`REDIS_PASSWORD`/`REDIS_DB` with Laravel's defaults (`REDIS_SCHEME=tls` → rediss).
 */
export function laravelRedisUrl(get: (name: string) => string | null): string {
  const url = get('REDIS_URL');
  if (url) return url;
  const value = (name: string, fallback: string): string => {
    const v = get(name);
    return v === null || v === '' || v === 'null' ? fallback : v;
  };
  const scheme = value('REDIS_SCHEME', 'tcp').toLowerCase() === 'tls' ? 'rediss' : 'redis';
  const user = value('REDIS_USERNAME', '');
  const password = value('REDIS_PASSWORD', '');
  const auth = user || password ? `${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@` : '';
  const host = value('REDIS_HOST', '127.0.0.1');
  return `${scheme}://${auth}${host.includes(':') ? `[${host}]` : host}:${value('REDIS_PORT', '6379')}/${value('REDIS_DB', '0')}`;
}
