import { afterEach } from '@jest/globals';
import {
  Injectable,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CoordinationDashboardModule,
  CurrentJob,
  DASHBOARD_ACTION_HEADER,
  QueueService,
  QueueWorker,
  RedisCoordinationModule,
  type CoordinationDashboardOptions,
  type Job,
} from '../../../lib/index.js';
import { CapturingLogger } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';

export const QUEUE = 'emails';

/** Fails each job's first run (so, with one attempt, the job goes dead), then completes it. */
@Injectable()
export class FailsOnceWorker {
  readonly failedOnce = new Set<string>();
  readonly completed = new Set<string>();

  @QueueWorker(QUEUE)
  handle(@CurrentJob() job: Job<unknown>): void {
    if (!this.failedOnce.has(job.id)) {
      this.failedOnce.add(job.id);
      throw new Error(`first run fails for ${JSON.stringify(job.data)}`);
    }
    this.completed.add(job.id);
  }
}

/** Lets in requests with `authorization: Bearer operator`. */
export class OperatorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    return request.headers.authorization === 'Bearer operator';
  }
}

export const OPERATOR = { authorization: 'Bearer operator' };
/** What the page sends with an action. */
export const ACTION = {
  ...OPERATOR,
  [DASHBOARD_ACTION_HEADER]: '1',
  'content-type': 'application/json',
};

export interface DashboardApp {
  readonly app: INestApplication;
  /** `http://127.0.0.1:<port>/coordination` */
  readonly url: string;
  readonly queue: QueueService;
  readonly worker: FailsOnceWorker;
  readonly prefix: string;
}

const started = new Set<INestApplication>();

/**
 * An HTTP app with the dashboard at /coordination and {@link FailsOnceWorker}; closed after each
 * test. `configure` runs before it listens (e.g. to enable CORS).
 */
export async function startDashboardApp(
  redisUrl: string,
  options: CoordinationDashboardOptions = { guard: OperatorGuard },
  configure?: (app: INestApplication) => void,
): Promise<DashboardApp> {
  const prefix = uniqueKeyPrefix();
  const moduleRef = await Test.createTestingModule({
    imports: [
      RedisCoordinationModule.forRoot({ url: redisUrl, keyPrefix: prefix, isGlobal: true }),
      CoordinationDashboardModule.register({ path: 'coordination', ...options }),
    ],
    providers: [FailsOnceWorker],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: new CapturingLogger() });
  started.add(app);
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  return {
    app,
    url: `${await app.getUrl()}/coordination`,
    queue: app.get(QueueService),
    worker: app.get(FailsOnceWorker),
    prefix,
  };
}

/** Registers an `afterEach` hook closing every app {@link startDashboardApp} started. */
export function closeDashboardAppsAfterEach(): void {
  afterEach(async () => {
    await Promise.all([...started].map((app) => app.close()));
    started.clear();
  });
}
