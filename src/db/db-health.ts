import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { backendOf, type DatabaseBackend } from './data-source.js';

export interface DatabaseHealth {
  status: 'ok' | 'down';
  backend: DatabaseBackend;
  /** Server version when up, the reason when down. Never a host name, path or credential. */
  detail: string;
}

/** Readiness of the database: one round trip (SELECT 1) on the service's DataSource. */
@Injectable()
export class DbHealth {
  constructor(private readonly ds: DataSource) {}

  get backend(): DatabaseBackend {
    return backendOf(this.ds.options);
  }

  async health(): Promise<DatabaseHealth> {
    const backend = this.backend;
    try {
      if (!this.ds.isInitialized) return { status: 'down', backend, detail: 'the database connection is closed' };
      await this.ds.query('SELECT 1');
      const version = (this.ds.driver as { version?: string }).version ?? 'unknown version';
      const detail = backend === 'pglite' ? `embedded PGlite (PostgreSQL ${version})` : `PostgreSQL ${version}`;
      return { status: 'ok', backend, detail };
    } catch (e) {
      return { status: 'down', backend, detail: (e as Error).message };
    }
  }
}
