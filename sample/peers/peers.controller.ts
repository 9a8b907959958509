import { Controller, Get } from '@nestjs/common';
import { ServiceRegistry } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';

/** The registry's view: every live instance of the shop, however many run. */
@Controller('peers')
export class PeersController {
  constructor(
    private readonly registry: ServiceRegistry,
    private readonly instance: Instance,
  ) {}

  @Get()
  async peers() {
    const instances = await this.registry.instances('shop');
    return { servedBy: this.instance.name, peers: instances.map((peer) => peer.address).sort() };
  }
}
