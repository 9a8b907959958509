import { Controller, Get, Param } from '@nestjs/common';
import { CounterService } from 'nestjs-redis-coordination';

@Controller('orders')
export class OrdersQueryController {
  constructor(private readonly counters: CounterService) {}

  /** How often an order was confirmed (queue) and billed (durable group): both should be 1. */
  @Get(':id')
  async status(@Param('id') id: string) {
    const [confirmations, billed] = await this.counters.getMany([
      `confirmed:${id}`,
      `billed:${id}`,
    ]);
    return { id, confirmations: Number(confirmations), billed: Number(billed) };
  }
}
