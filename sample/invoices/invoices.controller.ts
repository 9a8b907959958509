import { Controller, Get, Param } from '@nestjs/common';
import { InvoiceRenderer } from './invoice-renderer.js';

@Controller('orders')
export class InvoicesController {
  constructor(private readonly renderer: InvoiceRenderer) {}

  /** Renders the order's invoice; `409` while the shop already renders as many as it may. */
  @Get(':id/invoice')
  invoice(@Param('id') id: string) {
    return this.renderer.render(id);
  }
}
