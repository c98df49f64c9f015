/**
 * Every TypeORM entity of the service, listed explicitly (no filesystem globs: they are fragile
 * under ESM and Jest). A capability that adds an entity appends it here, and adds the migration
 * that creates its table to migrations/index.ts.
 */
import { ApiKey } from '../auth/api-key.entity.js';
import { Principal } from '../auth/principal.entity.js';
import { DeployedContract } from '../ledger/deployed-contract.entity.js';

export const ENTITIES: Function[] = [Principal, ApiKey, DeployedContract];
