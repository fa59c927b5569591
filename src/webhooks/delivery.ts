import { webhookBody, webhookHeaders, type WebhookEvent } from '../../protocol/webhooks.js';

export interface DeliveryOptions {
  /** 0 = send as soon as the previous request is done. */
  batchMs: number;
  /** Events per request (1 for a webhook that does not batch). */
  batchSize: number;
  timeoutMs: number;
  retryWindowMs: number;
  backoffMs: number;
  backoffMaxMs: number;
}

export interface DeliveryReport {
  sent(events: number): void;
  /** A request failed and will be retried after `delayMs`. */
  retrying(url: string, reason: string, delayMs: number): void;
  /** A request kept failing for the whole retry window: its events are dropped. */
  expired(url: string, events: number, reason: string): void;
}

interface Request {
  body: string;
  headers: Record<string, string>;
  events: number;
  firstTry: number;
  attempt: number;
}

/** Exponential backoff with jitter (half to full delay), so many nodes do not retry in step. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(full * (0.5 + random() / 2));
}

/**
 * One webhook URL. Its events go out in order, one request at a time: a failing request is retried
 * (backing off) before anything queued behind it, until it succeeds or its retry window ends.
 * Everything is timers and promises: nothing here waits on the event loop.
 */
export class UrlQueue {
  private waiting: WebhookEvent[] = [];
  private head = 0;
  private inFlight: Request | undefined;
  private timer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private hurry = false;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly app: { key: string; secret: string },
    private readonly extraHeaders: Readonly<Record<string, string>>,
    private readonly options: DeliveryOptions,
    private readonly report: DeliveryReport,
  ) {}

  /** Events waiting (not yet in a request). */
  get length(): number {
    return this.waiting.length - this.head;
  }

  /** Events not yet delivered: waiting plus those of the request in flight. */
  get pending(): number {
    return this.length + (this.inFlight?.events ?? 0);
  }

  /** True when an event like this one already waits (not yet sent). */
  has(match: (event: WebhookEvent) => boolean): boolean {
    for (let i = this.head; i < this.waiting.length; i++) if (match(this.waiting[i]!)) return true;
    return false;
  }

  push(event: WebhookEvent): void {
    this.waiting.push(event);
    this.schedule();
  }

  /** Drops the oldest waiting event (the queue is full); false when none waits. */
  dropOldest(): boolean {
    if (this.length === 0) return false;
    this.head++;
    this.compact();
    return true;
  }

  /** Shutdown: stop collecting batches, send what waits now, and retry now a request that waits to be retried. */
  hurryUp(): void {
    this.hurry = true;
    const waitingToRetry = this.inFlight !== undefined && this.timer !== undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (waitingToRetry) void this.attempt();
    else if (!this.inFlight) this.sendNext();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  private schedule(): void {
    if (this.inFlight || this.closed) return;
    if (this.hurry || this.options.batchMs === 0 || this.length >= this.options.batchSize) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.sendNext();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.sendNext();
      }, this.options.batchMs);
    }
  }

  private take(): WebhookEvent[] {
    const events = this.waiting.slice(this.head, this.head + this.options.batchSize);
    this.head += events.length;
    this.compact();
    return events;
  }

  /** Consumed and dropped events leave the array once they dominate it: its size follows what waits. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }

  private sendNext(): void {
    if (this.closed || this.inFlight || this.length === 0) return;
    const events = this.take();
    const body = webhookBody(Date.now(), events);
    const headers = { ...this.extraHeaders, ...webhookHeaders(this.app.key, this.app.secret, body) };
    this.inFlight = { body, headers, events: events.length, firstTry: Date.now(), attempt: 0 };
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    const req = this.inFlight!;
    let failure: string | undefined;
    // One controller per request (close() aborts it): a long-lived signal combined per request with
    // AbortSignal.any would keep a reference to every request's signal.
    const abort = (this.abort = new AbortController());
    const timeout = setTimeout(() => abort.abort(new TimeoutError()), this.options.timeoutMs);
    try {
      const res = await fetch(this.url, { method: 'POST', headers: req.headers, body: req.body, signal: abort.signal });
      // The body is not needed; cancelling it frees the connection for the next request.
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) failure = `HTTP ${res.status}`;
    } catch (err) {
      failure = describe(abort.signal.reason instanceof TimeoutError ? abort.signal.reason : err);
    } finally {
      clearTimeout(timeout);
    }
    if (this.closed) return;
    if (failure === undefined) {
      this.inFlight = undefined;
      this.report.sent(req.events);
      // What waits now has waited for this request already: no further batching delay.
      this.sendNext();
      return;
    }
    // Shutting down: the grace period is short, so retries stop growing.
    const delay = backoffDelay(this.hurry ? 0 : req.attempt, this.options.backoffMs, this.options.backoffMaxMs);
    if (Date.now() + delay - req.firstTry > this.options.retryWindowMs) {
      this.inFlight = undefined;
      this.report.expired(this.url, req.events, failure);
      this.sendNext();
      return;
    }
    req.attempt++;
    this.report.retrying(this.url, failure, delay);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, delay);
  }
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timed out';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
