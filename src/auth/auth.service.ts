import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PrincipalStore } from './principal-store.js';

/** Nest face of PrincipalStore. */
@Injectable()
export class AuthService extends PrincipalStore {
  constructor(ds: DataSource) {
    super(ds);
  }
}
