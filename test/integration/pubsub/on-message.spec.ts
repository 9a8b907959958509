import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  Controller,
  Injectable,
  ParseIntPipe,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { tap } from 'rxjs';
import {
  InvalidArgumentError,
  InvalidKeyError,
  MessageContext,
  MessagePayload,
  OnMessage,
  PubSubService,
  RedisCoordinationModule,
  type DurableMessageMeta,
  type MessageMeta,
} from '../../../lib/index.js';
import { closeModule, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { waitUntil } from './pubsub-helpers.js';

/** What guards, interceptors and handlers saw, per test app. */
class Journal {
  readonly entries: string[] = [];
}

@Injectable()
class RejectBlockedGuard implements CanActivate {
  constructor(private readonly journal: Journal) {}
  canActivate(context: ExecutionContext): boolean {
    const message = context.switchToRpc().getData<{ blocked?: boolean }>();
    const meta = context.switchToRpc().getContext<MessageMeta>();
    this.journal.entries.push(`guard:${context.getType()}:${meta.channel}`);
    return !message.blocked;
  }
}

@Injectable()
class TimingInterceptor implements NestInterceptor {
  constructor(private readonly journal: Journal) {}
  intercept(context: ExecutionContext, next: CallHandler) {
    this.journal.entries.push(`before:${context.getHandler().name}`);
    return next.handle().pipe(tap(() => this.journal.entries.push('after')));
  }
}

@Injectable()
class Listener {
  readonly seen: Array<[unknown, MessageMeta]> = [];
  readonly numbers: number[] = [];
  readonly durable: Array<[unknown, DurableMessageMeta]> = [];
  constructor(readonly journal: Journal) {}

  @OnMessage('inventory.changed')
  @OnMessage({ pattern: 'stock.*' })
  onChange(message: unknown, meta: MessageMeta) {
    this.seen.push([message, meta]);
  }

  @OnMessage('guarded')
  @UseGuards(RejectBlockedGuard)
  @UseInterceptors(TimingInterceptor)
  guarded(message: { id: number }) {
    this.journal.entries.push(`handled:${message.id}`);
  }

  @OnMessage('numbers')
  parsed(@MessagePayload(new ParseIntPipe()) value: number, @MessageContext() meta: MessageMeta) {
    this.numbers.push(value);
    assert.equal(meta.channel, 'numbers');
  }

  @OnMessage('orders.placed', { group: 'billing' })
  bill(order: unknown, meta: DurableMessageMeta) {
    this.durable.push([order, meta]);
  }
}

@Controller()
class ListeningController {
  readonly got: unknown[] = [];
  @OnMessage('to-controller')
  receive(message: unknown) {
    this.got.push(message);
  }
}

describe('@OnMessage', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function app(keyPrefix = uniqueKeyPrefix()) {
    const moduleRef = await startModule([
      {
        module: class ListenerModule {},
        imports: [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix })],
        providers: [Journal, Listener, RejectBlockedGuard, TimingInterceptor],
        controllers: [ListeningController],
      },
    ]);
    return {
      moduleRef,
      keyPrefix,
      pubsub: moduleRef.get(PubSubService),
      listener: moduleRef.get(Listener),
      controller: moduleRef.get(ListeningController),
    };
  }

  it('refuses bad decorator arguments when the class is defined', () => {
    assert.throws(() => OnMessage(''), InvalidKeyError);
    assert.throws(() => OnMessage({ pattern: '' }), InvalidKeyError);
    assert.throws(() => OnMessage({ pattern: 'a.*' }, { group: 'g' }), InvalidArgumentError);
    assert.throws(() => OnMessage(42 as unknown as string), InvalidArgumentError);
    assert.throws(() => OnMessage({} as never), InvalidArgumentError);
  });

  it('subscribes stacked decorators at bootstrap, on providers and controllers', async () => {
    const { pubsub, listener, controller } = await app();
    assert.equal(await pubsub.publish('inventory.changed', { sku: 'A' }), 1);
    assert.equal(await pubsub.publish('stock.low', { sku: 'B' }), 1);
    assert.equal(await pubsub.publish('to-controller', 'hi'), 1);
    await waitUntil(() => listener.seen.length === 2 && controller.got.length === 1);
    assert.deepEqual(
      listener.seen.map(([message, meta]) => [message, meta.channel, meta.pattern]),
      [
        [{ sku: 'A' }, 'inventory.changed', undefined],
        [{ sku: 'B' }, 'stock.low', 'stock.*'],
      ],
    );
    assert.deepEqual(controller.got, ['hi']);
  });

  it('runs guards and interceptors on the handler, with a redis-pubsub context', async () => {
    const { pubsub, listener } = await app();
    await pubsub.publish('guarded', { id: 1, blocked: true });
    await pubsub.publish('guarded', { id: 2 });
    await waitUntil(() => listener.journal.entries.includes('after'));
    assert.deepEqual(listener.journal.entries, [
      'guard:redis-pubsub:guarded',
      'guard:redis-pubsub:guarded',
      'before:guarded',
      'handled:2',
      'after',
    ]);
  });

  it('applies pipes of @MessagePayload() and injects @MessageContext()', async () => {
    const { pubsub, listener } = await app();
    await pubsub.publish('numbers', '41');
    await pubsub.publish('numbers', 'not a number'); // ParseIntPipe refuses: logged, not handled
    await pubsub.publish('numbers', '42');
    await waitUntil(() => listener.numbers.length === 2);
    assert.deepEqual(listener.numbers, [41, 42]);
  });

  it('consumes durable messages in a group, and unsubscribes everything at shutdown', async () => {
    const { moduleRef, keyPrefix, pubsub, listener } = await app();
    const id = await pubsub.publish('orders.placed', { order: 7 }, { durable: true });
    await waitUntil(() => listener.durable.length === 1);
    const [order, meta] = listener.durable[0]!;
    assert.deepEqual(order, { order: 7 });
    assert.equal(meta.id, id);
    assert.equal(meta.group, 'billing');
    assert.equal(meta.deliveries, 1);
    const numsub = async (channel: string) =>
      ((await redis.client.pubsub('NUMSUB', `${keyPrefix}{pubsub:${channel}}`)) as unknown[])[1];
    assert.equal(await numsub('inventory.changed'), 1);
    await closeModule(moduleRef);
    assert.equal(await numsub('inventory.changed'), 0);
    assert.equal(await redis.client.pubsub('NUMPAT'), 0);
    // Acknowledged: nothing left pending in the group.
    const pending = (await redis.client.xpending(
      `${keyPrefix}{pubsub:orders.placed}:stream`,
      'billing',
    )) as [number];
    assert.equal(pending[0], 0);
  });
});
