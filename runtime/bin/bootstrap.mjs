// Runs before `npm start` and `npm test` on whatever Node the machine has (plain JavaScript on
// purpose): installs the npm packages when they are missing or older than package-lock.json (this
// brings Node 24 as the `node` package), makes sure redis-server exists when REDIS_URL is unset,
// and before `npm test` that Debian's chromium is there for the headless-browser test.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.log('recsync: installing npm packages (npm ci) ...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
if (!process.env.REDIS_URL && !has('redis-server')) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log('recsync: redis-server is missing; installing it with apt-get ...');
    execFileSync('sh', ['-c', 'apt-get install -y redis-server || (apt-get update && apt-get install -y redis-server)'], { stdio: 'inherit' });
  } else {
    console.error('recsync: redis-server is not installed. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`), or set REDIS_URL to a Redis ≥ 7.');
    process.exit(1);
  }
}

// The browser test drives Debian's chromium (playwright-core downloads no browser).
if (process.env.npm_lifecycle_event === 'pretest' && !existsSync('/usr/bin/chromium')) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log('recsync: chromium (for the headless-browser test) is missing; installing it with apt-get ...');
    execFileSync('sh', ['-c', 'apt-get install -y chromium || (apt-get update && apt-get install -y chromium)'], { stdio: 'inherit' });
  } else {
    console.error('recsync: the browser test needs Debian\'s chromium at /usr/bin/chromium: `sudo apt-get install -y chromium`.');
    process.exit(1);
  }
}
