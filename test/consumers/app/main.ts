// Copied into each fixture's src/ by run-consumers.mjs (with `.js` on relative imports for ESM).
import { NestFactory } from '@nestjs/core';
import { PubSubService, QueueService, RedisLockService } from 'nestjs-redis-coordination';
import { AppModule, Inbox, JOBS_QUEUE, NEWS_CHANNEL, PriceService } from './app.module';

// Boots the app against REDIS_URL, uses each capability once, closes, and exits 0 only if
// every outcome was the expected one (no HTTP server: the run must end on its own).
async function bootstrap() {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  const inbox = app.get(Inbox);
  const locked = await app
    .get(RedisLockService)
    .using('consumer-boot', async (_signal, lock) => lock.resources.join());
  await app.get(QueueService).add(JOBS_QUEUE, { orderId: 7 });
  const job = await inbox.next('job');
  const receivers = await app.get(PubSubService).publish(NEWS_CHANNEL, { headline: 'booted' });
  const message = await inbox.next('message');
  const prices = app.get(PriceService);
  const cached = [await prices.price('abc'), await prices.price('abc'), prices.loads];
  await app.close();
  const result = { locked, job, receivers, message, cached };
  const expected = {
    locked: 'consumer-boot',
    job: { orderId: 7 },
    receivers: 1,
    message: { headline: 'booted' },
    cached: [300, 300, 1],
  };
  if (JSON.stringify(result) !== JSON.stringify(expected)) {
    throw new Error(`unexpected outcome: ${JSON.stringify(result)}`);
  }
  console.log(`boot ok ${JSON.stringify(result)}`);
}
bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
