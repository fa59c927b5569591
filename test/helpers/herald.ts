import pino from 'pino';
import { serverSchema, type AppConfig, type AppInput, type HeraldConfig, type ServerInput } from '../../src/config/schema.js';
import { startServer, type Herald } from '../../src/server.js';

export const TEST_APP: AppInput = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

export interface TestHerald {
  port: number;
  /** http://127.0.0.1:port (plus the path prefix, if any) */
  url: string;
  wsHost: '127.0.0.1';
  app: AppConfig;
  config: HeraldConfig;
  herald: Herald;
  stop(): Promise<void>;
}

/** A real Herald on a free port, silent unless HERALD_TEST_LOG names a level. */
export async function startHerald(
  overrides: { server?: Partial<ServerInput>; app?: Partial<AppInput>; apps?: AppInput[] } = {},
): Promise<TestHerald> {
  const config = serverSchema.parse({
    host: '127.0.0.1',
    port: 0,
    metricsEnabled: false,
    shutdownGracePeriod: 1,
    ...overrides.server,
    apps: overrides.apps ?? [{ ...TEST_APP, ...overrides.app }],
  });
  const logger = pino({ level: process.env.HERALD_TEST_LOG ?? 'silent' });
  const herald = await startServer(config, logger);
  return {
    port: herald.port,
    url: `http://127.0.0.1:${herald.port}${config.pathPrefix}`,
    wsHost: '127.0.0.1',
    app: config.apps[0]!,
    config,
    herald,
    stop: () => herald.shutdown(),
  };
}
