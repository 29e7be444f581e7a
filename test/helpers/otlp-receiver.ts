import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { onCleanup } from './cleanup.ts';

/** One span as an OTLP/HTTP receiver got it, flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP kinds: internal, server, client, producer, consumer. */
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  /** ms since the epoch (fractional). */
  start: number;
  end: number;
  attributes: Record<string, string | number | boolean>;
  status: { code: number; message?: string };
  events: Array<{ name: string; attributes: Record<string, string | number | boolean> }>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, string | number | boolean> }>;
  resource: Record<string, string | number | boolean>;
}

const kinds = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
type OtlpAttributes = Array<{ key: string; value: OtlpValue }> | undefined;

function attributesOf(list: OtlpAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}

function millisOf(time: unknown): number {
  if (typeof time === 'object' && time !== null && 'low' in time) {
    const { low, high } = time as { low: number; high: number };
    return (high * 2 ** 32 + (low >>> 0)) / 1e6;
  }
  return Number(BigInt(String(time)) / 1000n) / 1000;
}

/**
 * A minimal OTLP/HTTP traces receiver on 127.0.0.1: it takes what the real
 * @opentelemetry/exporter-trace-otlp-http sends (JSON, possibly gzipped) and keeps every span.
 * A request it cannot decode is answered 400 and recorded in `errors`, so a test sees it.
 */
export async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; errors: string[]; requests: number; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const state = { requests: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      state.requests += 1;
      try {
        if (request.method !== 'POST' || request.url !== '/v1/traces') throw new Error(`${request.method} ${request.url}`);
        if (!String(request.headers['content-type']).includes('application/json')) throw new Error(`content-type ${request.headers['content-type']}`);
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const message = JSON.parse(body.toString()) as {
          resourceSpans: Array<{ resource?: { attributes?: OtlpAttributes }; scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>;
        };
        for (const resourceSpans of message.resourceSpans) {
          const resource = attributesOf(resourceSpans.resource?.attributes);
          for (const scope of resourceSpans.scopeSpans) {
            for (const span of scope.spans) {
              spans.push({
                traceId: span['traceId'] as string,
                spanId: span['spanId'] as string,
                parentSpanId: (span['parentSpanId'] as string | undefined) || undefined,
                name: span['name'] as string,
                kind: kinds[span['kind'] as number] ?? 'unspecified',
                start: millisOf(span['startTimeUnixNano']),
                end: millisOf(span['endTimeUnixNano']),
                attributes: attributesOf(span['attributes'] as OtlpAttributes),
                status: (span['status'] as { code: number; message?: string } | undefined) ?? { code: 0 },
                events: ((span['events'] as Array<{ name: string; attributes?: OtlpAttributes }> | undefined) ?? []).map((e) => ({ name: e.name, attributes: attributesOf(e.attributes) })),
                links: ((span['links'] as Array<{ traceId: string; spanId: string; attributes?: OtlpAttributes }> | undefined) ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attributesOf(l.attributes) })),
                resource,
              });
            }
          }
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        errors.push((error as Error).message);
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onCleanup(close);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    errors,
    get requests() {
      return state.requests;
    },
    close,
  };
}
