import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The subset of an ioredis client (or cluster) that scripts need. */
export interface ScriptClient {
  evalsha(sha: string, numberOfKeys: number, ...keysAndArguments: string[]): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...keysAndArguments: string[]): Promise<unknown>;
}

/**
 * A Lua script run by SHA, falling back to EVAL (which also loads it) when the server does not
 * know it yet, e.g. after a restart. Scripts live in `.lua` files next to their TypeScript wrapper,
 * each starting with a header that lists its KEYS, ARGV and return values.
 */
export class LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;

  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  static fromFile(url: URL): LuaScript {
    return new LuaScript(url.pathname.split('/').pop()!, readFileSync(url, 'utf8'));
  }

  async run(client: ScriptClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    const keysAndArguments: string[] = keys.slice();
    for (const arg of args) keysAndArguments.push(String(arg));
    try {
      return await client.evalsha(this.sha, keys.length, ...keysAndArguments);
    } catch (error) {
      // A restarted Redis has an empty script cache: EVAL sends the script and caches it again.
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keysAndArguments);
    }
  }
}
