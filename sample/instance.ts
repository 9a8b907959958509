import type { Provider } from '@nestjs/common';

/** Names this instance in responses, so the duo demo shows which instance served what. */
export class Instance {
  constructor(readonly name: string) {}
}

/** Read when the app is created (not when the module loads): two apps in one process differ. */
export const instanceProvider: Provider = {
  provide: Instance,
  useFactory: () => new Instance(process.env.INSTANCE_NAME ?? `pid-${process.pid}`),
};
