import { after } from 'node:test';

const stack: Array<() => unknown> = [];

// Registered when this module is first imported, at the top of a test file, so the hook belongs to
// the file (an `after` called inside a test would belong to that test, and clean-ups registered by
// later tests would never run).
after(async () => {
  while (stack.length > 0) await stack.pop()!();
});

/**
 * Registers a clean-up for the end of the test file. Clean-ups run last-registered first, so a
 * runtime closes before the sandbox and Redis it uses (node:test runs `after` hooks in order).
 */
export function onCleanup(fn: () => unknown): void {
  stack.push(fn);
}
