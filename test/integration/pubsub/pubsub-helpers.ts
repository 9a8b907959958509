// Helpers shared by the pub/sub specs (integration and faults).
import { PubSubService, RedisCoordinationModule } from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';

/** Boots an app importing the module on `url`; returns its PubSubService and logger. */
export async function startPubSubApp(
  url: string,
  keyPrefix?: string,
  {
    logger = new CapturingLogger(),
    maxPayloadBytes,
  }: { logger?: CapturingLogger; maxPayloadBytes?: number } = {},
) {
  const moduleRef = await startModule(
    [RedisCoordinationModule.forRoot({ url, keyPrefix, maxPayloadBytes })],
    { logger },
  );
  return { moduleRef, pubsub: moduleRef.get(PubSubService), logger };
}

/** Resolves once `condition()` holds, checking every few milliseconds. */
export async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
}
