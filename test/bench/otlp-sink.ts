// A stand-in OTLP/HTTP traces receiver for the tracing benchmark, in its own process so that the
// runtime's process pays only for producing and exporting spans, as with a collector elsewhere.
// It counts spans without decoding them (each span has one `"spanId":"`; the benchmark's spans
// carry no links) and answers GET /count. Prints `OTLP_SINK_URL=<url>` once listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const marker = Buffer.from('"spanId":"');
let spans = 0;
let requests = 0;
const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/count') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ spans, requests }));
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    for (let at = body.indexOf(marker); at !== -1; at = body.indexOf(marker, at + marker.length)) spans += 1;
    requests += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(`OTLP_SINK_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
