import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AdminController } from './admin.controller.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { AuthService } from './auth.service.js';

@Module({
  controllers: [AdminController],
  providers: [AuthService, { provide: APP_GUARD, useClass: ApiKeyGuard }],
  exports: [AuthService],
})
export class AuthModule {}
