import { Catch, HttpException, HttpStatus, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import {
  InvalidArgumentError,
  InvalidKeyError,
  RedisCoordinationError,
} from '../common/coordination.error.js';
import { RedisConnectionError } from '../connection/connection.errors.js';
import { QueueJobActiveError, QueueJobNotFoundError } from '../queue/queue.errors.js';

/**
 * Answers the library's typed errors with a status and their message (already free of secrets:
 * the library redacts what it reports), e.g. 404 for a job that is gone, 503 while Redis is
 * unreachable. Anything else is Nest's plain 500, so no raw client error reaches the page.
 */
@Catch()
export class DashboardErrorFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    super.catch(toHttpException(exception), host);
  }
}

function toHttpException(error: unknown): unknown {
  if (!(error instanceof RedisCoordinationError) || error instanceof HttpException) return error;
  const status = statusOf(error);
  return new HttpException(
    { statusCode: status, code: error.code, message: error.message },
    status,
    {
      cause: error,
    },
  );
}

function statusOf(error: RedisCoordinationError): number {
  if (error instanceof InvalidArgumentError || error instanceof InvalidKeyError) {
    return HttpStatus.BAD_REQUEST;
  }
  if (error instanceof QueueJobNotFoundError) return HttpStatus.NOT_FOUND;
  if (error instanceof QueueJobActiveError) return HttpStatus.CONFLICT;
  if (error instanceof RedisConnectionError) return HttpStatus.SERVICE_UNAVAILABLE;
  return HttpStatus.INTERNAL_SERVER_ERROR;
}
