// Copied into each fixture's src/ by run-consumers.mjs (with `.js` on relative imports for ESM).
import { Injectable, Module } from '@nestjs/common';
import {
  Cached,
  OnMessage,
  QueueWorker,
  RedisCoordinationModule,
  type Job,
} from 'nestjs-redis-coordination';

export const JOBS_QUEUE = 'consumer-jobs';
export const NEWS_CHANNEL = 'consumer-news';

/** What the queue worker and the message handler received, and a way to wait for it. */
@Injectable()
export class Inbox {
  private readonly items = new Map<string, unknown[]>();
  private readonly waiters = new Map<string, Array<(item: unknown) => void>>();

  put(kind: string, item: unknown): void {
    const waiter = this.waiters.get(kind)?.shift();
    if (waiter) waiter(item);
    else this.items.set(kind, [...(this.items.get(kind) ?? []), item]);
  }

  next(kind: string, timeoutMs = 5_000): Promise<unknown> {
    const queued = this.items.get(kind);
    if (queued?.length) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${kind} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const waiters = this.waiters.get(kind) ?? [];
      waiters.push((item) => {
        clearTimeout(timer);
        resolve(item);
      });
      this.waiters.set(kind, waiters);
    });
  }
}

@Injectable()
export class JobsWorker {
  constructor(private readonly inbox: Inbox) {}

  @QueueWorker(JOBS_QUEUE)
  handle(job: Job<{ orderId: number }>): void {
    this.inbox.put('job', job.data);
  }
}

@Injectable()
export class NewsListener {
  constructor(private readonly inbox: Inbox) {}

  @OnMessage(NEWS_CHANNEL)
  onNews(message: { headline: string }): void {
    this.inbox.put('message', message);
  }
}

@Injectable()
export class PriceService {
  /** How often the method body (the loader) really ran. */
  loads = 0;

  @Cached({ ttlMs: 60_000 })
  async price(sku: string): Promise<number> {
    this.loads++;
    return sku.length * 100;
  }
}

export const providers = [Inbox, JobsWorker, NewsListener, PriceService];

@Module({
  // Keys of this process only: the boots of every fixture share one Redis.
  imports: [
    RedisCoordinationModule.forRoot({
      url: process.env.REDIS_URL,
      keyPrefix: `consumer-${process.pid}:`,
    }),
  ],
  providers,
})
export class AppModule {}
