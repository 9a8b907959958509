import type { LoggerService, ModuleMetadata, Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';

/** A logger that keeps every line, so tests can assert on what the library logs. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.lines.push([message, ...rest].map(String).join(' '));
  }
  error = this.log;
  warn = this.log;
  debug = this.log;
  verbose = this.log;
  fatal = this.log;
}

const started = new Set<TestingModule>();

/**
 * Compiles and initialises a testing module that imports `imports`. Whatever a test leaves
 * open is closed by {@link closeStartedModules} (call it in `afterEach`), so a failing
 * assertion cannot leave connections that keep the test process alive.
 */
export async function startModule(
  imports: NonNullable<ModuleMetadata['imports']>,
  options: { providers?: Type<unknown>[]; logger?: LoggerService } = {},
): Promise<TestingModule> {
  const builder = Test.createTestingModule({ imports, providers: options.providers ?? [] });
  builder.setLogger(options.logger ?? new CapturingLogger());
  const moduleRef = await builder.compile();
  started.add(moduleRef);
  await moduleRef.init();
  return moduleRef;
}

/** Closes one module started by {@link startModule} (shutdown hooks run, connections quit). */
export async function closeModule(moduleRef: TestingModule): Promise<void> {
  if (started.delete(moduleRef)) await moduleRef.close();
}

/** Closes every module started by {@link startModule} and not closed yet. */
export async function closeStartedModules(): Promise<void> {
  await Promise.all([...started].map((moduleRef) => closeModule(moduleRef)));
}
