import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthService } from './auth.service.js';
import { PUBLIC_KEY, ROLES_KEY, type AuthenticatedPrincipal, type Role } from './roles.js';

export type AuthenticatedRequest = Request & { principal?: AuthenticatedPrincipal };

/**
 * Global guard. Fails closed: an endpoint that declares neither @Public() nor @Roles(...) is
 * refused, so a forgotten declaration can never open an endpoint.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (!roles || roles.length === 0) throw new ForbiddenException('this endpoint declares no roles and is closed');

    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const presented = extractKey(req);
    if (!presented) {
      throw new UnauthorizedException('an API key is required: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"');
    }
    const principal = await this.auth.authenticate(presented);
    if (!principal) throw new UnauthorizedException('the API key is unknown or has been revoked');
    if (!roles.includes(principal.role)) {
      throw new ForbiddenException(`this endpoint requires the role ${roles.join(' or ')}; the key's principal has the role ${principal.role}`);
    }
    req.principal = principal;
    return true;
  }
}

function extractKey(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice(7).trim();
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x.trim() : undefined;
}
