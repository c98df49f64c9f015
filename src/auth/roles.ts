import { SetMetadata } from '@nestjs/common';

/** The kinds of principal that call the service (see the README's "who uses it"). */
export const ROLES = ['wallet-app', 'regulator', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const ROLES_KEY = 'auth:roles';
export const PUBLIC_KEY = 'auth:public';

/** The endpoint may be called by principals holding any of these roles. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);
/** The endpoint is public (health, audit reads, verification). Must be said explicitly. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** What the guard attaches to an authenticated request. */
export interface AuthenticatedPrincipal {
  id: string;
  name: string;
  role: Role;
  keyPrefix: string;
}
