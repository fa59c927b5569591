import type { AppConfig } from '../config/schema.js';

/** Where apps come from. Static config today; a database-backed store implements the same lookups. */
export interface AppRegistry {
  byKey(key: string): AppConfig | undefined;
  byId(id: string): AppConfig | undefined;
  all(): readonly AppConfig[];
}

export class StaticAppRegistry implements AppRegistry {
  private readonly keys = new Map<string, AppConfig>();
  private readonly ids = new Map<string, AppConfig>();

  constructor(private readonly apps: readonly AppConfig[]) {
    for (const app of apps) {
      this.keys.set(app.key, app);
      this.ids.set(app.id, app);
    }
  }

  byKey(key: string) {
    return this.keys.get(key);
  }

  byId(id: string) {
    return this.ids.get(id);
  }

  all() {
    return this.apps;
  }
}
