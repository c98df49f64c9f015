/** The zk data side: identity registry, accounts and balance epochs, root history and publication. */
import { AccountController, EpochController } from './account.controller.js';
import { AccountRegistryService } from './account-registry.service.js';
import { IdentityController } from './identity.controller.js';
import { IdentityRegistryService } from './identity-registry.service.js';
import { RootController } from './root.controller.js';
import { RootHistoryService } from './root-history.service.js';
import { RootPublisherService } from './root-publisher.service.js';

export const REGISTRY_CONTROLLERS = [IdentityController, AccountController, EpochController, RootController];
export const REGISTRY_PROVIDERS = [RootHistoryService, RootPublisherService, IdentityRegistryService, AccountRegistryService];
/** What the proving and verification side (and other modules) may inject. */
export const REGISTRY_EXPORTS = [RootHistoryService, IdentityRegistryService, AccountRegistryService, RootPublisherService];

export { AccountRegistryService, IdentityRegistryService, RootHistoryService, RootPublisherService };
export type { RootCheck, ZkTree } from './root-history.service.js';
export type { BalanceWitnessData, BalancePath, Epoch } from './account-registry.service.js';
export type { IdentityWitnessData, IdentityPath } from './identity-registry.service.js';
