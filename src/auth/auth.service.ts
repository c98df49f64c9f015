import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { PrincipalStore } from './principal-store.js';

/** Nest face of PrincipalStore; administrative actions are recorded in the audit log. */
@Injectable()
export class AuthService extends PrincipalStore {
  constructor(ds: DataSource, audit: AuditService) {
    super(ds, (m, e) => audit.append(e, m));
  }
}
