/**
 * The ceiling for this stack: a bare uWebSockets.js server with topics + publish and just enough of the
 * Pusher wire format for the load generator to work. No signature checks (neither WebSocket auth nor REST
 * signing), no channel bookkeeping beyond uWS topics, no presence member lists, no limits.
 *
 *   node bare.js --port P [--host 127.0.0.1] [--extra-ns-per-event N]
 *
 * `--extra-ns-per-event` burns N ns of CPU after each event published through REST: a known amount
 * of extra server work per event, to see how far it moves the bench's CPU figure (bench/RESULTS.md).
 *
 * Prints `listening <port>` on stdout once bound.
 */
import * as uWS from 'uws-pack';

interface Conn {
  socketId: string;
  /** presence channel -> user id, to announce member_removed on unsubscribe */
  presence: Map<string, string> | null;
}

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v ?? fallback;
}

const port = Number(argValue('--port', '6001'));
const host = argValue('--host', '127.0.0.1');
const extraMsPerEvent = Number(argValue('--extra-ns-per-event', '0')) / 1e6;
const decoder = new TextDecoder();
let nextId = 1;

const app = uWS.App();

app.ws<Conn>('/app/:key', {
  idleTimeout: 0,
  maxPayloadLength: 256 * 1024,
  maxBackpressure: 1024 * 1024,
  upgrade: (res, req, context) => {
    res.upgrade<Conn>(
      { socketId: `${process.pid}.${nextId++}`, presence: null },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    const data = JSON.stringify({ socket_id: ws.getUserData().socketId, activity_timeout: 120 });
    ws.send(JSON.stringify({ event: 'pusher:connection_established', data }));
  },
  message: (ws, message) => {
    let msg: { event?: unknown; channel?: unknown; data?: unknown };
    try {
      msg = JSON.parse(decoder.decode(message)) as typeof msg;
    } catch {
      return;
    }
    const event = msg.event;
    if (typeof event !== 'string') return;
    if (event.startsWith('client-')) {
      if (typeof msg.channel === 'string') ws.publish(msg.channel, message);
      return;
    }
    let data = msg.data as { channel?: unknown; channel_data?: unknown } | string | undefined;
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data) as { channel?: unknown };
      } catch {
        return;
      }
    }
    const channel = data && typeof data === 'object' && typeof data.channel === 'string' ? data.channel : undefined;
    if (event === 'pusher:subscribe' && channel !== undefined && data && typeof data === 'object') {
      ws.subscribe(channel);
      if (channel.startsWith('presence-') && typeof data.channel_data === 'string') {
        let userId = '';
        try {
          userId = String((JSON.parse(data.channel_data) as { user_id?: unknown }).user_id);
        } catch {
          return;
        }
        const user = ws.getUserData();
        (user.presence ??= new Map()).set(channel, userId);
        ws.send(
          JSON.stringify({
            event: 'pusher_internal:subscription_succeeded',
            channel,
            data: JSON.stringify({ presence: { ids: [], hash: {}, count: 0 } }),
          }),
        );
        ws.publish(
          channel,
          JSON.stringify({ event: 'pusher_internal:member_added', channel, data: JSON.stringify({ user_id: userId }) }),
        );
        return;
      }
      ws.send(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' }));
    } else if (event === 'pusher:unsubscribe' && channel !== undefined) {
      ws.unsubscribe(channel);
      const user = ws.getUserData();
      const userId = user.presence?.get(channel);
      if (userId !== undefined) {
        user.presence?.delete(channel);
        // ws.publish from a socket with no subscriptions left delivers nothing in uWS: publish app-wide
        // (this socket has just left the topic, so it does not get its own member_removed).
        app.publish(
          channel,
          JSON.stringify({ event: 'pusher_internal:member_removed', channel, data: JSON.stringify({ user_id: userId }) }),
        );
      }
    } else if (event === 'pusher:ping') {
      ws.send('{"event":"pusher:pong","data":"{}"}');
    }
  },
});

interface RestEvent {
  name?: unknown;
  data?: unknown;
  channel?: unknown;
  channels?: unknown;
}

function publishEvent(ev: RestEvent): void {
  if (typeof ev.name !== 'string') return;
  const channels = Array.isArray(ev.channels) ? (ev.channels as unknown[]) : [ev.channel];
  for (const ch of channels) {
    if (typeof ch !== 'string') continue;
    app.publish(ch, JSON.stringify({ event: ev.name, channel: ch, data: ev.data }));
    if (extraMsPerEvent > 0) burn(extraMsPerEvent);
  }
}

function burn(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

function readBody(res: uWS.HttpResponse, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast && !aborted) done(Buffer.concat(chunks));
  });
}

function handleRest(res: uWS.HttpResponse, batch: boolean): void {
  readBody(res, (body) => {
    let status = '200 OK';
    try {
      const parsed = JSON.parse(body.toString()) as RestEvent & { batch?: RestEvent[] };
      if (batch) for (const ev of parsed.batch ?? []) publishEvent(ev);
      else publishEvent(parsed);
    } catch {
      status = '400 Bad Request';
    }
    res.cork(() => {
      res.writeStatus(status).writeHeader('Content-Type', 'application/json').end('{}');
    });
  });
}

app.post('/apps/:id/events', (res) => handleRest(res, false));
app.post('/apps/:id/batch_events', (res) => handleRest(res, true));
app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end('');
});

app.listen(host, port, (listenSocket) => {
  if (!listenSocket) {
    console.error(`bare: cannot listen on ${host}:${port}`);
    process.exit(1);
  }
  console.log(`listening ${uWS.us_socket_local_port(listenSocket)}`);
});

const stop = (): void => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
