import { BadRequestException, Body, Controller, Get, Put } from '@nestjs/common';
import { LiveConfigService, OnConfigChange, type ConfigChange } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { SETTINGS_KEY, type ShopSettings } from './shop-settings.js';

@Controller('settings')
export class SettingsController {
  constructor(
    private readonly config: LiveConfigService,
    private readonly instance: Instance,
  ) {}

  /** This instance's snapshot: no Redis round trip. */
  @Get()
  current() {
    const { value, version } = this.config.entry<ShopSettings>(SETTINGS_KEY);
    return { servedBy: this.instance.name, version, settings: value ?? { ordersOpen: true } };
  }

  @Put()
  async change(@Body() body: Partial<ShopSettings>) {
    if (typeof body?.ordersOpen !== 'boolean') {
      throw new BadRequestException('expected { "ordersOpen": boolean }');
    }
    const version = await this.config.set(SETTINGS_KEY, { ordersOpen: body.ordersOpen });
    return { servedBy: this.instance.name, version };
  }

  @OnConfigChange(SETTINGS_KEY)
  announce(settings: ShopSettings, { version }: ConfigChange<ShopSettings>) {
    console.log(`[${this.instance.name}] settings v${version}: ${JSON.stringify(settings)}`);
  }
}
