import type { Socket } from '../../src/transport/uws.js';

/** An in-memory model of uWS topics: enough to run the adapter suite without a network. */
export class FakeTopics {
  private readonly topics = new Map<string, Set<FakeSocket>>();
  /** Like uWS's `subscription` handler for a decrease: explicit unsubscribes and every topic of a closing socket. */
  onLeft: (socket: FakeSocket, topic: string, remaining: number) => void = () => {};

  publish(topic: string, message: string, except?: FakeSocket): boolean {
    for (const socket of this.topics.get(topic) ?? []) if (socket !== except) socket.received.push(message);
    return true;
  }

  numSubscribers(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  subscribe(topic: string, socket: FakeSocket): boolean {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(socket);
    return true;
  }

  unsubscribe(topic: string, socket: FakeSocket): boolean {
    const set = this.topics.get(topic);
    const left = set?.delete(socket) ?? false;
    if (left) this.onLeft(socket, topic, set!.size);
    return left;
  }

  isSubscribed(topic: string, socket: FakeSocket): boolean {
    return this.topics.get(topic)?.has(socket) ?? false;
  }

  topicsOf(socket: FakeSocket): string[] {
    return [...this.topics].filter(([, set]) => set.has(socket)).map(([topic]) => topic);
  }

  /** uWS drops a closing socket from each of its topics. */
  close(socket: FakeSocket): void {
    for (const [topic, set] of this.topics) if (set.has(socket)) this.unsubscribe(topic, socket);
  }

  socket(): FakeSocket {
    return new FakeSocket(this);
  }
}

export class FakeSocket implements Socket {
  readonly received: string[] = [];
  ended: number | undefined;

  constructor(private readonly topics: FakeTopics) {}

  send(message: string): number {
    this.received.push(message);
    return 1;
  }
  subscribe(topic: string) {
    return this.topics.subscribe(topic, this);
  }
  unsubscribe(topic: string) {
    return this.topics.unsubscribe(topic, this);
  }
  isSubscribed(topic: string) {
    return this.topics.isSubscribed(topic, this);
  }
  getTopics() {
    return this.topics.topicsOf(this);
  }
  publish(topic: string, message: string) {
    return this.topics.publish(topic, message, this);
  }
  ping() {
    return 1;
  }
  end(code?: number) {
    this.ended = code ?? 1000;
  }
  cork(cb: () => void) {
    cb();
    return this;
  }
}
