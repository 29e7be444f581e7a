import { after } from 'node:test';

const stack: Array<() => unknown> = [];
let registered = false;

/**
 * Registers a clean-up for the end of the test file. Clean-ups run last-registered first, so a
 * runtime closes before the sandbox and Redis it uses (node:test runs `after` hooks in order).
 */
export function onCleanup(fn: () => unknown): void {
  stack.push(fn);
  if (registered) return;
  registered = true;
  after(async () => {
    while (stack.length > 0) await stack.pop()!();
  });
}
