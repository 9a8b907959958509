import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { dashboardLogin } from './dashboard/basic-auth.guard.js';
import { Instance } from './instance.js';

const port = Number(process.env.PORT ?? 3000);
const app = await NestFactory.create(AppModule, { logger: ['log', 'warn', 'error'] });
app.enableShutdownHooks();
await app.listen(port, '127.0.0.1');
new Logger('Sample').log(
  `${app.get(Instance).name} listening on http://127.0.0.1:${port}: GET /products/lamp, POST /orders {"productId":"lamp"}, GET /stats, GET /leader, GET /orders/<id>/invoice, GET /health`,
);
new Logger('Sample').log(
  `Dashboard: http://127.0.0.1:${port}/coordination (user ${dashboardLogin.user}, password ${dashboardLogin.password})`,
);
