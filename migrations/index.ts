/**
 * Every schema migration, oldest first, listed explicitly (no filesystem globs). A new migration
 * is a file `<timestamp>-<Name>.ts` in this folder exporting a class named `<Name><timestamp>`,
 * appended here. Migrations must run on PostgreSQL 15 and on PGlite (PostgreSQL 18): plain SQL,
 * no extensions (gen_random_uuid() is built in).
 */
import type { MigrationInterface } from 'typeorm';
import { Foundation1700000000000 } from './1700000000000-Foundation.js';
import { Ledger1700000000100 } from './1700000000100-Ledger.js';
import { Audit1700000000200 } from './1700000000200-Audit.js';
import { Zk1700000000300 } from './1700000000300-Zk.js';
import { Custody1700000000400 } from './1700000000400-Custody.js';
import { CustodyPolicyQuorum1700000000410 } from './1700000000410-CustodyPolicyQuorum.js';
import { CustodyShareMaintenance1700000000420 } from './1700000000420-CustodyShareMaintenance.js';
import { AnalyticsKeys1700000000500 } from './1700000000500-AnalyticsKeys.js';
import { AnalyticsTasks1700000000510 } from './1700000000510-AnalyticsTasks.js';

export const MIGRATIONS: (new () => MigrationInterface)[] = [
  Foundation1700000000000,
  Ledger1700000000100,
  Audit1700000000200,
  Zk1700000000300,
  Custody1700000000400,
  CustodyPolicyQuorum1700000000410,
  CustodyShareMaintenance1700000000420,
  AnalyticsKeys1700000000500,
  AnalyticsTasks1700000000510,
];
