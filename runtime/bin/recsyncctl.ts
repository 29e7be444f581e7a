// recsyncctl: the operator's command line over the HTTP API. Every command is one or two API
// calls, so it needs nothing but the API's address and a token: RECSYNC_URL, RECSYNC_TOKEN.
// Exit codes: 0 done, 1 the API refused or failed (its code and message on stderr), 2 usage.
import { parseArgs } from 'node:util';

const usage = `usage: recsyncctl [--json] <command>

  status [connector]                    every connector, or one in detail
  pause <connector>                     stop delivering, on every instance (operate)
  resume <connector>                    deliver again (operate)
  reload <connector>                    reload its files on every instance, or show why not (operate)
  dlq list <connector> [--code C] [--state dead|superseded] [--from T] [--to T] [--limit N] [--cursor X]
  dlq replay <connector> (--all | --id ID [--id ID ...] | --from T [--to T])   (operate)
  audit [--limit N]                     the audit log, newest first (admin)

  --json       print the API's answer as JSON instead of a table
environment: RECSYNC_URL (default http://127.0.0.1:3000), RECSYNC_TOKEN (a bearer token)`;

class UsageError extends Error {}
class ApiError extends Error {
  readonly status: number;
  readonly body: { code?: string; message?: string; details?: Array<Record<string, unknown>> } | undefined;
  constructor(status: number, body: ApiError['body'], fallback: string) {
    super(body?.message ?? fallback);
    this.status = status;
    this.body = body;
  }
}

type Args = ReturnType<typeof parse>;
function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        code: { type: 'string' },
        state: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        all: { type: 'boolean', default: false },
        id: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const base = (process.env['RECSYNC_URL'] ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const headers: Record<string, string> = {};
  const token = process.env['RECSYNC_TOKEN'];
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (error) {
    throw new ApiError(0, undefined, `cannot reach ${base} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}); is RECSYNC_URL right?`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) throw new ApiError(response.status, parsed as ApiError['body'], `HTTP ${response.status}: ${text.slice(0, 200)}`);
  return parsed;
}

const enc = encodeURIComponent;

/** Left-aligned columns, two spaces apart; the header in capitals. */
function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((row) => columns.map((c) => (row[c] === null || row[c] === undefined ? '-' : String(row[c]))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

function connectorRow(c: any) {
  const breakers = Object.entries(c.breakers ?? {}).map(([account, state]) => `${account}:${state}`).join(',');
  return {
    name: c.name, state: c.state, version: c.version,
    waiting: c.queue?.waiting, active: c.queue?.active, delayed: c.queue?.delayed, failed: c.queue?.failed,
    accepted: c.counters?.accepted, delivered: c.counters?.delivered, dead: c.counters?.deadLettered, open: c.counters?.open,
    breakers: breakers === '' ? '-' : breakers,
  };
}
const connectorColumns = ['name', 'state', 'version', 'waiting', 'active', 'delayed', 'failed', 'accepted', 'delivered', 'dead', 'open', 'breakers'];

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${what}`);
  return value;
}

/** Runs one command; returns what to print on stdout. */
async function run(args: Args): Promise<string> {
  const [command, ...rest] = args.positionals;
  const json = args.values.json;
  const out = (answer: unknown, text: () => string) => (json ? JSON.stringify(answer, null, 2) : text());
  switch (command) {
    case 'status': {
      if (rest.length > 1) throw new UsageError('status takes at most one connector');
      if (rest[0] === undefined) {
        const answer = await api('GET', '/v1/connectors');
        return out(answer, () => `${answer.warning ? `warning: ${answer.warning}\n` : ''}${table(answer.connectors.map(connectorRow), connectorColumns)}`);
      }
      const c = await api('GET', `/v1/connectors/${enc(rest[0])}`);
      return out(c, () => {
        const lines = [table([connectorRow(c)], connectorColumns), '', table(c.instances ?? [], ['id', 'host', 'pid', 'version'])];
        if (c.rateBudget) lines.push('', `rate budget (${c.rateBudget.account}): ${c.rateBudget.windows.map((w: any) => `${w.used}/${w.requests} per ${w.perMs} ms`).join(', ')}; blocked ${c.rateBudget.blockedForMs} ms`);
        if (c.errors?.length) lines.push('', 'configuration errors:', ...c.errors.map(detail));
        return lines.join('\n');
      });
    }
    case 'pause':
    case 'resume': {
      const name = need(rest[0], 'connector');
      const answer = await api('POST', `/v1/connectors/${enc(name)}/${command}`);
      return out(answer, () => `${answer.name}: ${answer.state}`);
    }
    case 'reload': {
      const name = need(rest[0], 'connector');
      const answer = await api('POST', `/v1/connectors/${enc(name)}/reload`);
      return out(answer, () => `${answer.name}: version ${answer.version} ${answer.changed ? '(changed)' : '(unchanged)'}`);
    }
    case 'dlq':
      return dlq(rest, args, out);
    case 'audit': {
      const query = new URLSearchParams();
      if (args.values.limit !== undefined) query.set('limit', args.values.limit);
      const answer = await api('GET', `/v1/audit${query.size ? `?${query}` : ''}`);
      return out(answer, () => table(answer.items.map((e: any) => ({ ...e, target: Object.values(e.target ?? {}).join('/') })), ['at', 'who', 'role', 'action', 'target', 'status']));
    }
    default:
      throw new UsageError(command === undefined ? 'no command' : `unknown command "${command}"`);
  }
}

async function dlq(rest: string[], args: Args, out: (answer: unknown, text: () => string) => string): Promise<string> {
  const [sub, name] = rest;
  const { code, state, from, to, limit, cursor, all, id } = args.values;
  if (sub === 'list') {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries({ code, state, from, to, limit, cursor })) if (value !== undefined) query.set(key, value);
    const answer = await api('GET', `/v1/connectors/${enc(need(name, 'connector'))}/dlq${query.size ? `?${query}` : ''}`);
    return out(answer, () => {
      const rows = answer.items.map((l: any) => ({ id: l.id, state: l.state, at: l.at, code: l.error?.code, message: String(l.error?.message ?? '').slice(0, 80) }));
      return `${table(rows, ['id', 'state', 'at', 'code', 'message'])}\n${answer.items.length} shown, ${answer.total} in the queue${answer.next ? `; more: --cursor ${answer.next}` : ''}`;
    });
  }
  if (sub === 'replay') {
    const connector = need(name, 'connector');
    const ways = [all, id !== undefined, from !== undefined || to !== undefined].filter(Boolean).length;
    if (ways !== 1) throw new UsageError('dlq replay needs exactly one of --all, --id ..., --from/--to');
    const body = id !== undefined ? { ids: id } : all ? { all: true } : { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
    const answer = await api('POST', `/v1/connectors/${enc(connector)}/dlq/replay`, body);
    return out(answer, () => `replayed ${answer.replayed}, superseded ${answer.superseded}, skipped ${answer.skipped}\n${table(answer.items, ['id', 'result', 'reason'])}`);
  }
  throw new UsageError(sub === undefined ? 'dlq needs list or replay' : `unknown dlq command "${sub}"`);
}

function detail(d: Record<string, unknown>): string {
  const where = [d['file'] === undefined ? undefined : `${d['file']}${d['line'] === undefined ? '' : `:${d['line']}`}`, d['field']].filter((x) => x !== undefined).join(' ');
  return `  ${where === '' ? '' : `${where}: `}${d['message']}`;
}

async function main(argv: string[]): Promise<number> {
  let args: Args | undefined;
  try {
    args = parse(argv);
    if (args.values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    process.stdout.write(`${await run(args)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`recsyncctl: ${error.message}\n\n${usage}\n`);
      return 2;
    }
    if (error instanceof ApiError) {
      const code = error.body?.code ?? (error.status === 0 ? 'UNREACHABLE' : `HTTP_${error.status}`);
      const lines = [`recsyncctl: ${code}: ${error.message}`, ...(error.body?.details ?? []).map(detail)];
      if (args!.values.json && error.body) process.stdout.write(`${JSON.stringify(error.body, null, 2)}\n`);
      process.stderr.write(`${lines.join('\n')}\n`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
