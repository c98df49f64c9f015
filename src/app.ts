import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/config.js';
import { ProblemFilter } from './common/problem.filter.js';
import { createValidationPipe } from './common/validation.js';

export interface CreateAppOptions {
  /** Keep Nest's and pino's output quiet (tests). */
  quiet?: boolean;
}

/** Builds the HTTP application (not yet listening). Throws on any start-up failure. */
export async function createApp(config: AppConfig, opts: CreateAppOptions = {}): Promise<NestExpressApplication> {
  // Nest's own logger stays off during start-up: a failure is reported once, as one line, by the
  // entry point (no stack dump); after start-up all logs go through pino.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    abortOnError: false,
    logger: false,
  });
  if (!opts.quiet) app.useLogger(app.get(Logger));
  app.useGlobalFilters(new ProblemFilter());
  app.useGlobalPipes(createValidationPipe());
  app.useBodyParser('json', { limit: '1mb' });
  app.enableShutdownHooks();

  const doc = new DocumentBuilder()
    .setTitle('Privacy service for digital assets')
    .setDescription(
      'Zero-knowledge balance and eligibility proofs, threshold custody signing, encrypted AML analytics for ' +
        'regulators, and an append-only audit log anchored on an EVM ledger. Errors are RFC 9457 application/problem+json.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key: psk_<prefix>_<secret>' })
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'docs/openapi.json' });
  return app;
}
