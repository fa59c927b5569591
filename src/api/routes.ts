// TEMPORARY STUB written by the lead so the server compiles; the HTTP API engineer replaces this file entirely.
import type { Logger } from 'pino';
import type { Adapter } from '../adapter/adapter.js';
import type { AppRegistry } from '../apps/registry.js';
import type { HeraldConfig } from '../config/schema.js';
import type { Stats } from '../metrics/stats.js';
import type { Transport } from '../transport/uws.js';
export interface ApiDeps { config: HeraldConfig; apps: AppRegistry; adapter: Adapter; stats: Stats; logger: Logger; startedAt: number; isDraining(): boolean }
export function registerHttpRoutes(transport: Transport, deps: ApiDeps): void {
  void deps;
  transport.http('any', '/*', () => ({ status: 404, body: '{"error":"Not found"}' }));
}
