import {
  Body,
  Controller,
  Headers,
  HttpException,
  HttpStatus,
  Ip,
  Post,
  Res,
  BadRequestException,
} from '@nestjs/common';
import type { Response } from 'express';
import { CounterService, LiveConfigService } from 'nestjs-redis-coordination';
import { SETTINGS_KEY, type ShopSettings } from '../settings/shop-settings.js';
import { OrdersService } from './orders.service.js';

/** Orders per client in any sliding 10-second window, across all instances. */
const ORDER_LIMIT = { limit: 10, windowMs: 10_000 };

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly counters: CounterService,
    private readonly config: LiveConfigService,
  ) {}

  @Post()
  async place(
    @Body() body: { productId?: unknown; quantity?: unknown },
    @Headers('x-client-id') clientId: string | undefined,
    @Ip() ip: string,
    @Res({ passthrough: true }) response: Response,
  ) {
    const { productId, quantity = 1 } = body ?? {};
    if (typeof productId !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      throw new BadRequestException(
        'expected { "productId": string, "quantity": positive integer }',
      );
    }
    if (this.config.get<ShopSettings>(SETTINGS_KEY)?.ordersOpen === false) {
      throw new HttpException('Ordering is closed for maintenance', HttpStatus.SERVICE_UNAVAILABLE);
    }
    const rate = await this.counters.hit(`orders:${clientId ?? ip}`, ORDER_LIMIT);
    response.setHeader('X-RateLimit-Remaining', rate.remaining);
    if (!rate.allowed) {
      response.setHeader('Retry-After', Math.max(1, Math.ceil(rate.resetInMs / 1000)));
      throw new HttpException('Too many orders: try again later', HttpStatus.TOO_MANY_REQUESTS);
    }
    return this.orders.place(productId, quantity as number);
  }
}
