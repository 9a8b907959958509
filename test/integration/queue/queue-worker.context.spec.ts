import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  Catch,
  Injectable,
  ParseIntPipe,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { tap } from 'rxjs';
import {
  CurrentJob,
  JobData,
  JobSignal,
  QUEUE_CONTEXT_TYPE,
  QueueService,
  QueueWorker,
  RedisCoordinationModule,
  type Job,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** What enhancers and handlers saw, per test app. */
class Journal {
  readonly entries: string[] = [];
}

@Injectable()
class AllowedOnlyGuard implements CanActivate {
  constructor(private readonly journal: Journal) {}
  canActivate(context: ExecutionContext): boolean {
    const job = context.switchToRpc().getData<Job<{ allowed?: boolean }>>();
    this.journal.entries.push(`guard:${context.getType()}:attempt ${job.attempt}`);
    return job.data.allowed === true;
  }
}

@Injectable()
class ObservingInterceptor implements NestInterceptor {
  constructor(private readonly journal: Journal) {}
  intercept(context: ExecutionContext, next: CallHandler) {
    const job = context.switchToRpc().getData<Job>();
    const signal = context.switchToRpc().getContext<AbortSignal>();
    this.journal.entries.push(
      `before:${context.getType()}:${context.getClass().name}.${context.getHandler().name}:${job.name}:${signal instanceof AbortSignal}`,
    );
    return next.handle().pipe(tap((result) => this.journal.entries.push(`after:${result}`)));
  }
}

/** Registered with APP_INTERCEPTOR: applies to every handler of the app. */
@Injectable()
class GlobalInterceptor implements NestInterceptor {
  constructor(private readonly journal: Journal) {}
  intercept(context: ExecutionContext, next: CallHandler) {
    this.journal.entries.push(`global:${context.getType()}:${context.getHandler().name}`);
    return next.handle();
  }
}

class PaymentDeclinedError extends Error {
  override name = 'PaymentDeclinedError';
}
class BillingError extends Error {
  override name = 'BillingError';
}

/** Maps one error to another, as a filter may. */
@Catch(PaymentDeclinedError)
class DeclinedFilter implements ExceptionFilter {
  catch(error: PaymentDeclinedError, host: ArgumentsHost) {
    const job = host.switchToRpc().getData<Job>();
    throw new BillingError(`${host.getType()} job ${job.name}: ${error.message}`);
  }
}

/** Returns instead of throwing: in HTTP this would answer the request. */
@Catch()
class SwallowingFilter implements ExceptionFilter {
  catch() {
    return 'handled';
  }
}

@Injectable()
class Billing {
  constructor(readonly journal: Journal) {}

  @QueueWorker('billing', { name: 'charge' })
  @UseInterceptors(ObservingInterceptor)
  charge(job: Job<{ amount: number }>, signal: AbortSignal) {
    this.journal.entries.push(`charge:${job.data.amount}:${signal.aborted}`);
    return job.data.amount * 2;
  }

  @QueueWorker('billing', { name: 'refund' })
  @UseGuards(AllowedOnlyGuard)
  refund(job: Job) {
    this.journal.entries.push(`refund:${job.id}`);
  }

  @QueueWorker('billing', { name: 'parse' })
  parse(
    @JobSignal() signal: AbortSignal,
    @JobData(new ParseIntPipe()) amount: number,
    @CurrentJob() job: Job,
  ) {
    this.journal.entries.push(`parsed:${typeof amount} ${amount}:${job.name}:${signal.aborted}`);
  }

  @QueueWorker('billing', { name: 'declined' })
  @UseFilters(DeclinedFilter)
  declined() {
    throw new PaymentDeclinedError('card expired');
  }

  @QueueWorker('billing', { name: 'swallowed' })
  @UseFilters(SwallowingFilter)
  swallowed() {
    throw new Error('ledger unavailable');
  }

  @QueueWorker('audit')
  audit(job: Job<string>) {
    this.journal.entries.push(`audit:${job.data}`);
  }
}

describe('@QueueWorker through Nest', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function app() {
    const moduleRef = await startModule([
      {
        module: class BillingModule {},
        imports: [
          RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
        ],
        providers: [
          Journal,
          Billing,
          AllowedOnlyGuard,
          ObservingInterceptor,
          { provide: APP_INTERCEPTOR, useClass: GlobalInterceptor },
        ],
      },
    ]);
    const queue = moduleRef.get(QueueService);
    const journal = moduleRef.get(Journal).entries;
    const count = async (state: 'completed' | 'dead', queueName = 'billing') =>
      (await queue.counts(queueName))[state];
    /** Waits until `jobs` jobs of the queue have ended, completed or dead, however they ended. */
    const ended = (jobs: number, queueName = 'billing') =>
      waitUntil(async () => {
        const { completed, dead } = await queue.counts(queueName);
        return completed + dead === jobs;
      });
    return { queue, journal, count, ended };
  }

  it('runs interceptors with a redis-queue context that sees the job and the result', async () => {
    const { queue, journal, count, ended } = await app();
    const id = await queue.add('billing', { amount: 21 }, { name: 'charge' });
    await ended(1);
    assert.equal(await count('completed'), 1);
    // What the interceptor chain emitted is the job's result.
    assert.equal((await queue.getJob('billing', id))?.returnValue, 42);
    assert.equal(QUEUE_CONTEXT_TYPE, 'redis-queue');
    assert.deepEqual(journal, [
      'global:redis-queue:charge',
      'before:redis-queue:Billing.charge:charge:true',
      'charge:21:false',
      'after:42',
    ]);
  });

  it('applies a global APP_INTERCEPTOR to a handler without enhancers of its own', async () => {
    const { queue, journal, count, ended } = await app();
    await queue.add('audit', 'x');
    await ended(1, 'audit');
    assert.equal(await count('completed', 'audit'), 1);
    assert.deepEqual(journal, ['global:redis-queue:audit', 'audit:x']);
  });

  it('fails the attempt when a guard refuses, with ForbiddenException in its history', async () => {
    const { queue, journal, count, ended } = await app();
    const allowed = await queue.add('billing', { allowed: true }, { name: 'refund' });
    const refused = await queue.add('billing', { allowed: false }, { name: 'refund', attempts: 2 });
    await ended(2);
    assert.equal(await count('dead'), 1);
    const [dead] = await queue.dead('billing');
    assert.equal(dead!.id, refused);
    assert.equal(dead!.attemptsMade, 2);
    assert.deepEqual(
      dead!.history.map(({ error }) => error),
      ['ForbiddenException: Forbidden resource', 'ForbiddenException: Forbidden resource'],
    );
    // The handler ran for the allowed job only.
    assert.deepEqual(
      journal.filter((entry) => !entry.startsWith('global:')),
      [
        'guard:redis-queue:attempt 1',
        `refund:${allowed}`,
        'guard:redis-queue:attempt 1',
        'guard:redis-queue:attempt 2',
      ],
    );
  });

  it('passes @JobData() through its pipes and injects @CurrentJob() and @JobSignal()', async () => {
    const { queue, journal, count, ended } = await app();
    await queue.add('billing', '41', { name: 'parse' });
    await ended(1);
    assert.ok(journal.includes('parsed:number 41:parse:false'), journal.join(', '));
    // A pipe that refuses fails the attempt with its error.
    await queue.add('billing', 'forty-two', { name: 'parse' });
    await ended(2);
    assert.equal(await count('dead'), 1);
    const [dead] = await queue.dead('billing');
    assert.match(dead!.lastError!, /^BadRequestException: Validation failed \(numeric string/);
  });

  it('lets an exception filter replace the error, never complete a job that failed', async () => {
    const { queue, count, ended } = await app();
    const declined = await queue.add('billing', {}, { name: 'declined' });
    const swallowed = await queue.add('billing', {}, { name: 'swallowed' });
    await ended(2);
    assert.equal(await count('completed'), 0);
    const dead = new Map((await queue.dead('billing')).map((job) => [job.id, job.lastError]));
    assert.equal(dead.get(declined), 'BillingError: redis-queue job declined: card expired');
    // The filter returned a value: the attempt fails all the same, with the handler's error.
    assert.equal(dead.get(swallowed), 'Error: ledger unavailable');
  });
});
