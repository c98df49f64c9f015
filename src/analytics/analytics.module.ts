import { Module } from '@nestjs/common';
import { RegulatorsModule } from './regulators/index.js';
import { PaymentsController } from './payments/payments.controller.js';
import { PaymentsService } from './payments/payments.service.js';
import { TasksController } from './tasks/tasks.controller.js';
import { TasksService } from './tasks/tasks.service.js';

/**
 * AML analytics over encrypted payments (docs/analytics-service.md): wallet apps record payments
 * as feature ciphertexts with a Groth16 proof; regulators define, approve and decrypt
 * computation tasks k-of-n under the key sets of RegulatorsModule.
 */
@Module({
  imports: [RegulatorsModule],
  controllers: [PaymentsController, TasksController],
  providers: [PaymentsService, TasksService],
  exports: [PaymentsService, TasksService],
})
export class AnalyticsModule {}
