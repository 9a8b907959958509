// Metadata keys the decorators write and the explorers read, in one place and one spelling.

/** Method metadata of `@QueueWorker` (an array: the decorator stacks). */
export const QUEUE_WORKER_METADATA = 'nestjs-redis-coordination:queue-worker';
/** Parameter metadata of `@JobData()`/`@CurrentJob()`/`@JobSignal()`, read by Nest's pipes. */
export const JOB_ARGS_METADATA = 'nestjs-redis-coordination:job-args';
/** Method metadata of `@QueueScheduler` (an array: the decorator stacks). */
export const QUEUE_SCHEDULER_METADATA = 'nestjs-redis-coordination:queue-scheduler';
/** Method metadata of `@OnMessage` (an array: the decorator stacks). */
export const ON_MESSAGE_METADATA = 'nestjs-redis-coordination:on-message';
/** Parameter metadata of `@MessagePayload()`/`@MessageContext()`, read by Nest's pipes. */
export const MESSAGE_ARGS_METADATA = 'nestjs-redis-coordination:message-args';
/** Method metadata of `@OnConfigChange` (an array of keys: the decorator stacks). */
export const ON_CONFIG_CHANGE_METADATA = 'nestjs-redis-coordination:on-config-change';
/** Method metadata of `@Leader` (an array of election names: the decorator stacks). */
export const LEADER_METADATA = 'nestjs-redis-coordination:leader';
/** Method metadata of `@OnElected` (an array of election names). */
export const ON_ELECTED_METADATA = 'nestjs-redis-coordination:on-elected';
/** Method metadata of `@OnRevoked` (an array of election names). */
export const ON_REVOKED_METADATA = 'nestjs-redis-coordination:on-revoked';
