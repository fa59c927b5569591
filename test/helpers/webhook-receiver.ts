/**
 * A real HTTP webhook receiver: records every request (path, headers, raw body) and checks it with
 * the official `pusher` SDK's `webhook()` validator, as a Node backend would. `respond` decides the
 * status per request, so a test can make it fail for a while or answer slowly.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';
import { readBody } from './net.js';

export interface WebhookRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The SDK's verdict: content type, JSON body, key and signature. */
  valid: boolean;
  /** `events` of a valid webhook; empty otherwise. */
  events: Record<string, unknown>[];
  timeMs: number | undefined;
  /** The status this receiver answered. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  readonly requests: WebhookRequest[];
  /** Requests answered 2xx, oldest first. */
  accepted(): WebhookRequest[];
  /** Events of the accepted requests, oldest first. */
  events(): Record<string, unknown>[];
  /** Chooses the status for each request (default 200); may wait first. */
  respond: (req: { path: string; body: string }, index: number) => number | Promise<number>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(app: { appId: string; key: string; secret: string }, port = 0): Promise<WebhookReceiver> {
  const sdk = new Pusher({ appId: app.appId, key: app.key, secret: app.secret, host: '127.0.0.1' });
  const receiver: WebhookReceiver = {
    url: '',
    requests: [],
    accepted: () => receiver.requests.filter((r) => r.status >= 200 && r.status < 300),
    events: () => receiver.accepted().flatMap((r) => r.events),
    respond: () => 200,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '/';
      const index = receiver.requests.length;
      const record: WebhookRequest = { path, headers: req.headers, body, valid: false, events: [], timeMs: undefined, status: 0 };
      receiver.requests.push(record);
      const webhook = sdk.webhook({ headers: req.headers as Record<string, string>, rawBody: body });
      record.valid = webhook.isValid();
      if (record.valid) {
        record.events = webhook.getEvents() as unknown as Record<string, unknown>[];
        record.timeMs = webhook.getTime().getTime();
      }
      const status = await receiver.respond({ path, body }, index);
      record.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(status < 300 ? '{"ok":true}' : '{"error":"nope"}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

/** The receiver sits on its first request until the returned function is called; the others get 200 at once. */
export function holdFirstRequest(receiver: WebhookReceiver): () => void {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  receiver.respond = async (_req, index) => {
    if (index === 0) await released;
    return 200;
  };
  return release;
}
