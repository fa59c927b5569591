/**
 * Which uWebSockets.js build this process runs on. uWebSockets.js is not on npm under its own name;
 * two Apache-2.0 republishes carry its native binaries, one file per platform × arch × Node ABI:
 *   v20.30: Node 16/18/20 binaries, glibc ≥ 2.27 (Debian 12's 2.36 included);
 *   v20.57: Node 20/22/24/25 binaries, glibc ≥ 2.38 (Debian 13, Ubuntu 24.04).
 * Both packages hide a failed load: v20.30's entry point warns and returns a slow JavaScript shim that
 * breaks on the first HTTP request, v20.57's throws one generic sentence. So the binary for this
 * process is loaded directly, never through the package's entry point: it either loads natively or
 * fails with the loader's own reason (missing file, wrong ABI, `GLIBC_2.38' not found), and no shim
 * can slip in.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UWS from '@trufflesuite/uws-js-unofficial';
import type { uwsChoices } from '../config/schema.js';

/** The native module; typed by the v20.30 declarations, differences are handled in `uws.ts`. */
export type UwsModule = typeof UWS;

export interface UwsBuild {
  /** The uWebSockets.js version, as the `uws` option names it. */
  version: Exclude<UwsChoice, 'auto'>;
  package: string;
  /** Binaries' folder, relative to the package's entry file. */
  binaries: string;
  /** Node majors Herald supports that the build has binaries for (Herald needs Node ≥ 20.12). */
  node: readonly number[];
  minGlibc: string;
}

/** Newest first: `auto` takes the first one that loads. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  { version: '20.57', package: '@btc-vision/uwebsockets.js', binaries: '.', node: [20, 22, 24, 25], minGlibc: '2.38' },
  { version: '20.30', package: '@trufflesuite/uws-js-unofficial', binaries: '../binaries', node: [20], minGlibc: '2.27' },
];

export type UwsChoice = (typeof uwsChoices)[number];

export interface LoadedUws {
  build: UwsBuild;
  /** The package's own version, from its package.json. */
  packageVersion: string;
  uws: UwsModule;
  /** Builds tried before this one and why each did not load. */
  skipped: { version: string; reason: string }[];
}

/** No native build loads; the message is the one line an operator needs. */
export class UwsUnavailableError extends Error {
  override name = 'UwsUnavailableError';
}

const require = createRequire(import.meta.url);
const loaded = new Map<UwsChoice, LoadedUws>();

/** Loads the chosen build (or, for `auto`, the newest that loads) once per process. */
export function loadUws(choice: UwsChoice = 'auto'): LoadedUws {
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
    const result = { build, packageVersion: attempt.packageVersion, uws: attempt.uws, skipped };
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
  let entry: string;
  try {
    entry = require.resolve(build.package);
  } catch {
    return { reason: `${build.package} is not installed` };
  }
  const file = join(dirname(entry), build.binaries, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(file)) return { reason: `no binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules}` };
  let uws: UwsModule;
  try {
    uws = require(file) as UwsModule;
  } catch (error) {
    return { reason: firstLine(error) };
  }
  if (!isNative(uws)) return { reason: `${file} is not a native module` };
  return { uws, packageVersion: packageVersionOf(entry, build.package) };
}

/** A native addon's functions print as `[native code]`; the shim's are JavaScript source. */
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

function packageVersionOf(entry: string, name: string): string {
  // The package's `exports` may hide package.json from `require.resolve`, so walk up from the entry.
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === name) return pkg.version ?? 'unknown';
  }
  return 'unknown';
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}
