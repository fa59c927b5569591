/**
 * Which uWebSockets.js build this process runs on. uWebSockets.js is not on npm under its own name;
 * two republishes carry its native binaries, one file per platform × arch × Node ABI:
 *   v20.4x (uws-pack): Node 18/20/21/22 binaries, glibc ≥ 2.27 (Debian 12's 2.36 included);
 *   v20.57: Node 20/22/24/25 binaries, glibc ≥ 2.38 (Debian 13, Ubuntu 24.04).
 * uws-pack does not say which v20.4x tag it repacks; its binaries have the v20.44+ API (timers,
 * `adoptSocket`, `filter`) and still a Node 21 binary, so it is one of v20.44–v20.49. It declares
 * `engines: node >=22` although it runs on Node 20, and npm silently skips an optional dependency
 * whose engines do not match, so it is a plain dependency (npm only warns on Node 20).
 * Both entry points wrap a failed load in a sentence about Node versions whatever the cause, and
 * uws-pack's is ESM only (no synchronous `require`), so the binary for this process is loaded
 * directly: it either loads natively or fails with the loader's own reason (missing file, wrong
 * ABI, `GLIBC_2.38' not found).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as UWS from 'uws-pack';
import type { uwsChoices } from '../config/schema.js';

/** The native module; typed by the older build's declarations, differences are handled in `uws.ts`. */
export type UwsModule = typeof UWS;

export interface UwsBuild {
  /** The uWebSockets.js version, as the `uws` option names it. */
  version: Exclude<UwsChoice, 'auto'>;
  package: string;
  /** Binaries' folder, relative to the package's directory. */
  binaries: string;
  /** Node majors Herald supports that the build has binaries for (Herald needs Node ≥ 20.12). */
  node: readonly number[];
  minGlibc: string;
}

/** Newest first: `auto` takes the first one that loads. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  { version: '20.57', package: '@btc-vision/uwebsockets.js', binaries: '.', node: [20, 22, 24, 25], minGlibc: '2.38' },
  { version: '20.4x', package: 'uws-pack', binaries: 'dist/bin', node: [20, 22], minGlibc: '2.27' },
];

export type UwsChoice = (typeof uwsChoices)[number];

export interface LoadedUws {
  build: UwsBuild;
  /** The package's own version, from its package.json. */
  packageVersion: string;
  uws: UwsModule;
  /** Builds tried before this one and why each did not load. */
  skipped: { version: string; reason: string }[];
  /** The largest request head (request line and headers) uWS accepts before its 431, in bytes. */
  maxHeadBytes: number;
}

/** No native build loads; the message is the one line an operator needs. */
export class UwsUnavailableError extends Error {
  override name = 'UwsUnavailableError';
}

const require = createRequire(import.meta.url);
const loaded = new Map<UwsChoice, LoadedUws>();

/** uWS's own default, when nothing sets `UWS_HTTP_MAX_HEADERS_SIZE`. */
const UWS_HEAD_DEFAULT = 4096;
/** Fixed by the first binary this process loads: uWS reads its environment variable once. */
let headLimit: number | undefined;

/**
 * Loads the chosen build (or, for `auto`, the newest that loads) once per process. `maxHeadBytes`
 * takes effect only before the first binary loads: uWS reads it from `UWS_HTTP_MAX_HEADERS_SIZE`
 * once, and its 4 KB default refuses a browser's WebSocket handshake that carries a site's cookies.
 */
export function loadUws(choice: UwsChoice = 'auto', maxHeadBytes?: number): LoadedUws {
  if (headLimit === undefined && maxHeadBytes !== undefined) process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(maxHeadBytes);
  const cached = loaded.get(choice);
  if (cached) return cached;
  const candidates = choice === 'auto' ? UWS_BUILDS : UWS_BUILDS.filter((b) => b.version === choice);
  const skipped: LoadedUws['skipped'] = [];
  for (const build of candidates) {
    const attempt = loadBuild(build);
    if ('reason' in attempt) {
      skipped.push({ version: build.version, reason: attempt.reason });
      continue;
    }
    const result = { build, packageVersion: attempt.packageVersion, uws: attempt.uws, skipped, maxHeadBytes: headLimit ?? UWS_HEAD_DEFAULT };
    loaded.set(choice, result);
    return result;
  }
  throw new UwsUnavailableError(unavailableMessage(choice, skipped));
}

/** This process as the binaries' file names and the glibc check see it. */
export function runtimeDescription(): string {
  const glibc = glibcVersion();
  const libc = process.platform !== 'linux' ? '' : glibc ? `, glibc ${glibc}` : ', no glibc (musl?)';
  return `Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}${libc}`;
}

export function loadBuild(build: UwsBuild): { uws: UwsModule; packageVersion: string } | { reason: string } {
  const dir = packageDir(build.package);
  if (!dir) return { reason: `${build.package} is not installed` };
  const file = join(dir, build.binaries, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(file)) return { reason: `no binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules}` };
  let uws: UwsModule;
  try {
    headLimit ??= Number(process.env.UWS_HTTP_MAX_HEADERS_SIZE) || UWS_HEAD_DEFAULT;
    uws = require(file) as UwsModule;
  } catch (error) {
    return { reason: firstLine(error) };
  }
  if (!isNative(uws)) return { reason: `${file} is not a native module` };
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string };
  return { uws, packageVersion: pkg.version ?? 'unknown' };
}

/** A native addon's functions print as `[native code]`; JavaScript's print their source. */
export function isNative(module: unknown): boolean {
  const app = (module as { App?: unknown } | null)?.App;
  return typeof app === 'function' && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(app));
}

/** The supported combinations, as the one line printed when nothing loads. */
export function supportedCombinations(): string {
  return `Linux x64/arm64 with ${UWS_BUILDS.map((b) => `Node ${b.node.join('/')} and glibc >= ${b.minGlibc} (uWebSockets.js v${b.version})`).join(', or ')}`;
}

function unavailableMessage(choice: UwsChoice, skipped: LoadedUws['skipped']): string {
  const tried = skipped.map((s) => `v${s.version}: ${s.reason}`).join('; ');
  const forced = choice === 'auto' ? '' : ` (uws is set to ${choice})`;
  return (
    `no native uWebSockets.js build loads on ${runtimeDescription()}${forced}: ${tried}. ` +
    `Supported: ${supportedCombinations()}; macOS and Windows x64 binaries exist but are untested.`
  );
}

function glibcVersion(): string | undefined {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime;
}

/**
 * The package's folder, looked up where `require` would look. Not through `require.resolve`: uws-pack
 * exports only an `import` entry, and neither package exports its package.json.
 */
function packageDir(name: string): string | undefined {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  return undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}
