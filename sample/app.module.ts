import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { RedisCoordinationModule } from 'nestjs-redis-coordination';
import { HealthController } from './health.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    RedisCoordinationModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        url: config.get<string>('REDIS_URL', 'redis://127.0.0.1:6379'),
        keyPrefix: 'shop:',
      }),
      isGlobal: true,
    }),
  ],
  controllers: [HealthController],
})
export class AppModule {}
