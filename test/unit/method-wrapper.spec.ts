import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, UseGuards, type CanActivate } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { Test } from '@nestjs/testing';
import { createWrappingDecorator } from '../../lib/common/method-wrapper.js';

/** Stands in for a capability service: records the calls its decorator wraps. */
@Injectable()
class Recorder {
  readonly calls: string[] = [];
  readonly label = Math.random().toString(36).slice(2);
}

const Recorded = () =>
  createWrappingDecorator(Recorder, 'Recorded', (recorder, call) => {
    recorder.calls.push(`${call.name}(${call.args.join(',')})`);
    return call.proceed();
  });

class AllowAll implements CanActivate {
  canActivate() {
    return true;
  }
}

@Controller('items')
class ItemsController {
  constructor(readonly recorder: Recorder) {}

  @Recorded()
  @Get('above')
  @UseGuards(AllowAll)
  above(id: string) {
    return `above:${id}`;
  }

  @Get('below')
  @Recorded()
  below(id: string) {
    return `below:${id}:${this.recorder.label}`;
  }
}

@Injectable()
class PlainService {
  @Recorded()
  twice(n: number) {
    return n * 2;
  }
}

@Module({ controllers: [ItemsController], providers: [Recorder, PlainService] })
class FixtureModule {}

describe('createWrappingDecorator', () => {
  it('keeps route and guard metadata whatever the decorator order', () => {
    for (const method of [ItemsController.prototype.above, ItemsController.prototype.below]) {
      assert.equal(Reflect.getMetadata(METHOD_METADATA, method), 0 /* RequestMethod.GET */);
      assert.ok(Reflect.getMetadata(PATH_METADATA, method));
    }
    assert.deepEqual(Reflect.getMetadata(GUARDS_METADATA, ItemsController.prototype.above), [
      AllowAll,
    ]);
    assert.equal(ItemsController.prototype.above.name, 'above');
  });

  it('wraps controller and provider methods with the service of their own app', async () => {
    const first = await Test.createTestingModule({ imports: [FixtureModule] }).compile();
    const second = await Test.createTestingModule({ imports: [FixtureModule] }).compile();
    const [r1, r2] = [first.get(Recorder), second.get(Recorder)];
    assert.notEqual(r1, r2);
    assert.equal(first.get(ItemsController).above('a'), 'above:a');
    assert.equal(first.get(ItemsController).below('b'), `below:b:${r1.label}`);
    assert.equal(second.get(PlainService).twice(21), 42);
    assert.deepEqual(r1.calls, ['ItemsController.above(a)', 'ItemsController.below(b)']);
    assert.deepEqual(r2.calls, ['PlainService.twice(21)'], 'the second app used its own service');
  });

  it('names the problem when the instance was not created by Nest', () => {
    assert.throws(
      () => new PlainService().twice(1),
      /@Recorded\(\) on PlainService.twice needs Recorder/,
    );
  });

  it('refuses to decorate something that is not a method', () => {
    const decorate = Recorded();
    assert.throws(
      () => decorate(PlainService.prototype, 'x', { value: 5 } as PropertyDescriptor),
      /can only decorate methods/,
    );
  });
});
