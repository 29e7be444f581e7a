import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const repo = resolve(import.meta.dirname, '../..');

/** Runs `npm run kit -- ...` the way npm does (node runtime/kit/cli.ts ...), from the repository; never throws. */
export async function kit(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['runtime/kit/cli.ts', ...args], { cwd: repo, encoding: 'utf8' });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}
