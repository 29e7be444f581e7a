import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SinkDelivery } from '../../plugins/sink.ts';
import { onCleanup } from './cleanup.ts';

/**
 * The internal system's endpoint, as a test stands it up: a real HTTP server on 127.0.0.1 that
 * keeps every delivery (with its idempotency key) and answers 204, or the status `answer` gives.
 */
export async function startSink(answer: (delivery: SinkDelivery) => number = () => 204): Promise<{ url: string; deliveries: Array<SinkDelivery & { key: string }> }> {
  const deliveries: Array<SinkDelivery & { key: string }> = [];
  const read = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as SinkDelivery;
  };
  const server = createServer((request, response) => {
    read(request).then(
      (delivery) => {
        const status = answer(delivery);
        if (status < 300) deliveries.push({ ...delivery, key: String(request.headers['idempotency-key']) });
        response.writeHead(status).end();
      },
      () => response.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/inbound`, deliveries };
}
