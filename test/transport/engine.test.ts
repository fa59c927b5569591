import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { uwsChoices } from '../../src/config/schema.js';
import { UWS_BUILDS, UwsUnavailableError, isNative, loadBuild, loadUws, runtimeDescription, supportedCombinations } from '../../src/transport/engine.js';

/**
 * The same process runs this file on Node 20 / Debian 12 (v20.57 cannot load: glibc 2.36) and, in
 * `.ci/node24`, on Node 24 / Debian 13 (v20.4x has no Node 24 binary): each case asserts what this
 * runtime really does, so both runs exercise both a build that loads and one that does not.
 */
const require = createRequire(import.meta.url);
const verdicts = UWS_BUILDS.map((build) => ({ build, result: loadBuild(build) }));
const loads = verdicts.filter((v) => !('reason' in v.result));
const refused = verdicts.filter((v) => 'reason' in v.result);

/**
 * What the package's own entry point gives here. `require` where the package has a CommonJS entry:
 * Node 20 reports a CommonJS module that throws under `import()` as an unhandled rejection too.
 * uws-pack has only an `import` entry.
 */
async function viaPackageEntry(name: string): Promise<{ module?: unknown; error?: string }> {
  try {
    try {
      return { module: require(name) as unknown };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error;
      return { module: (await import(name)) as unknown };
    }
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('uWebSockets.js build selection', () => {
  it('offers exactly the builds the `uws` option names', () => {
    expect(['auto', ...UWS_BUILDS.map((b) => b.version)].sort()).toEqual([...uwsChoices].sort());
  });

  it('auto loads a native build: the newest that loads here', () => {
    expect(loads.length, `no build loads on ${runtimeDescription()}`).toBeGreaterThan(0);
    const engine = loadUws('auto');
    expect(engine.build).toBe(loads[0]!.build);
    expect(isNative(engine.uws)).toBe(true);
    expect(engine.skipped.map((s) => s.version)).toEqual(verdicts.slice(0, verdicts.indexOf(loads[0]!)).map((v) => v.build.version));
    const herald = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as Record<'dependencies' | 'optionalDependencies', Record<string, string>>;
    const declared = { ...herald.dependencies, ...herald.optionalDependencies };
    for (const build of UWS_BUILDS) expect(declared[build.package], build.package).toMatch(/^\d+\.\d+\.\d+$/);
    expect(engine.packageVersion).toBe(declared[engine.build.package]);
  });

  it("agrees with each package's own entry point about native loading", async () => {
    for (const { build, result } of verdicts) {
      const entry = await viaPackageEntry(build.package);
      const nativeViaEntry = entry.module !== undefined && isNative(entry.module);
      expect(!('reason' in result), `${build.package} on ${runtimeDescription()}: ${JSON.stringify(result)} vs ${JSON.stringify(entry)}`).toBe(nativeViaEntry);
      // Where the package cannot load natively its entry throws; it hands back nothing else.
      if (!nativeViaEntry) expect(entry.error).toBeDefined();
    }
  });

  it('tells a native App from a JavaScript one', () => {
    expect(isNative({ App: function App() {} })).toBe(false);
    expect(isNative({ App: () => ({}) })).toBe(false);
    expect(isNative({})).toBe(false);
    expect(isNative(null)).toBe(false);
  });

  it.skipIf(refused.length === 0)('a build that cannot load here fails with one line: why, and what is supported', () => {
    const { build, result } = refused[0]!;
    let error: unknown;
    try {
      loadUws(build.version);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UwsUnavailableError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain(`no native uWebSockets.js build loads on Node ${process.version}`);
    expect(message).toContain(`(uws is set to ${build.version})`);
    expect(message).toContain(`v${build.version}: ${(result as { reason: string }).reason}`);
    expect(message).toContain(supportedCombinations());
    expect(supportedCombinations()).toMatch(/Node 20\/22\/24\/25 and glibc >= 2\.38 \(uWebSockets\.js v20\.57\), or Node 20\/22 and glibc >= 2\.27 \(uWebSockets\.js v20\.4x\)/);
  });

  it('package.json engines and the README name exactly the Node majors the builds cover', () => {
    const root = join(import.meta.dirname, '../..');
    const { engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    const majors = [...new Set(UWS_BUILDS.flatMap((b) => b.node))].sort((a, b) => a - b);
    expect(engines.node.split('||').map((range) => Number(/^\^(\d+)\./.exec(range.trim())?.[1]))).toEqual(majors);
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`\`engines\`: \`${engines.node}\``);
  });

  it('says why a missing package does not load', () => {
    expect(loadBuild({ ...UWS_BUILDS[0]!, package: '@herald/not-installed' })).toEqual({ reason: '@herald/not-installed is not installed' });
    expect(loadBuild({ ...UWS_BUILDS[0]!, binaries: 'nowhere' })).toEqual({
      reason: `no binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules}`,
    });
  });
});
