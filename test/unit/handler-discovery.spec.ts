import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Controller, Injectable, Module, Scope } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { HandlerDiscovery, appendMethodMetadata } from '../../lib/common/handler-discovery.js';
import { CapturingLogger } from '../support/nest.js';

const KEY = 'test:handler';
const Handler =
  (topic: string): MethodDecorator =>
  (_target, _key, descriptor) => {
    appendMethodMetadata(KEY, topic, descriptor.value as object);
  };

@Injectable()
class Service {
  readonly id = 'service';
  @Handler('a')
  @Handler('b')
  both() {
    return this.id;
  }
  plain() {}
}

@Controller()
class Ctrl {
  @Handler('c')
  onC() {
    return 'ctrl';
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @Handler('d')
  onD() {}
}

@Module({
  imports: [DiscoveryModule],
  providers: [Service, PerRequest, HandlerDiscovery, { provide: 'alias', useExisting: Service }],
  controllers: [Ctrl],
})
class FixtureModule {}

describe('HandlerDiscovery', () => {
  it('finds stacked handlers on providers and controllers, bound, skipping aliases and warning on request scope', async () => {
    const logger = new CapturingLogger();
    const moduleRef = await Test.createTestingModule({ imports: [FixtureModule] })
      .setLogger(logger)
      .compile();
    const found = moduleRef.get(HandlerDiscovery).find<string>(KEY, 'Handler');
    const summary = found.map((h) => `${h.name}:${h.metadata.join('+')}`).sort();
    assert.deepEqual(summary, ['Ctrl.onC:c', 'Service.both:b+a']);
    assert.equal(found.find((h) => h.methodName === 'both')?.handler(), 'service');
    assert.ok(
      logger.lines.some((l) =>
        /@Handler\(\) on PerRequest.onD is ignored: PerRequest is request-scoped/.test(l),
      ),
    );
    await moduleRef.close();
  });
});
