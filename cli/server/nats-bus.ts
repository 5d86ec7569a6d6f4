/**
 * The cluster bus on NATS (docs/CLUSTER.md): one subject for what every node hears and one per
 * node for what is meant for it, both under the cluster's name (the URL's path: nats://host:port/name,
 * "p2pchat" without one), so several clusters can share one NATS server. Messages are JSON.
 *
 * NATS keeps one publisher's order to each subscriber, which the router relies on; noEcho keeps a
 * node from hearing itself. While the connection is down the client retries for ever (every
 * BUS_RECONNECT_WAIT_MS), `connected` is false, and onStatus tells the runtime, which turns
 * /healthz to 503 and refuses new logins; once it is back the node joins again.
 */
import { type NatsConnection, type Subscription, connect, Events } from 'nats';
import type { ClusterBus, ClusterItem, ClusterMessage, NodeId } from '../../core/server/cluster.ts';

/** How long a connection attempt waits: a bus on the LAN answers in milliseconds. */
const BUS_CONNECT_TIMEOUT_MS = 2_000;
/** Between reconnection attempts once the bus was lost. */
const BUS_RECONNECT_WAIT_MS = 250;
/** A message larger than this is a bug (a presence batch is a few KB); NATS's own default cap is 1 MB. */
export const BUS_MESSAGE_BYTES_MAX = 1_000_000;
/**
 * Messages held between subscribing and the router taking over (the snapshot is read in between,
 * well under a second); past this many the oldest are dropped and the node's join repairs it.
 */
const BUS_EARLY_MESSAGES_MAX = 100_000;
const CLUSTER_NAME_DEFAULT = 'p2pchat';
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Node ids and cluster names become NATS subject tokens: letters, digits, dash, underscore. */
export function checkBusName(name: string, what: string): string {
  if (!NAME_PATTERN.test(name)) throw new Error(`${what} "${name}" must be 1-64 of A-Z a-z 0-9 _ -`);
  return name;
}

/**
 * A message cut into messages of at most `limitBytes` of JSON each, items in order. An item that
 * alone is larger goes alone (the server refuses it; nothing the nodes say comes near: a sealed
 * mail is 8 KB).
 */
export function splitMessage(message: ClusterMessage, limitBytes: number): ClusterMessage[] {
  const envelopeBytes = JSON.stringify({ ...message, items: [] }).length;
  const parts: ClusterMessage[] = [];
  let items: ClusterItem[] = [];
  let bytes = envelopeBytes;
  for (const item of message.items) {
    // UTF-8 may take up to three bytes for one UTF-16 unit of JSON text: measured as encoded.
    const itemBytes = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (items.length > 0 && bytes + itemBytes > limitBytes) {
      parts.push({ ...message, items });
      items = [];
      bytes = envelopeBytes;
    }
    items.push(item);
    bytes += itemBytes;
  }
  if (items.length > 0 || parts.length === 0) parts.push({ ...message, items });
  return parts;
}

export class NatsBus implements ClusterBus {
  private handler: ((message: ClusterMessage) => void) | null = null;
  private readonly early: ClusterMessage[] = [];
  private isConnected = true;
  private readonly statusListeners = new Set<(connected: boolean) => void>();
  private readonly subscriptions: Subscription[] = [];
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly connection: NatsConnection,
    readonly clusterName: string,
    readonly nodeId: NodeId,
    private readonly onBadMessage: (error: unknown) => void,
  ) {}

  /** Connects and subscribes; messages that arrive before setHandler() wait for it. */
  static async connect(url: string, nodeId: NodeId, onBadMessage: (error: unknown) => void = () => {}): Promise<NatsBus> {
    const parsed = new URL(url);
    if (parsed.protocol !== 'nats:') throw new Error(`--bus: expected nats://host:port[/cluster], got ${parsed.protocol}//`);
    const clusterName = checkBusName(decodeURIComponent(parsed.pathname.replace(/^\/+/, '')) || CLUSTER_NAME_DEFAULT, 'cluster name');
    checkBusName(nodeId, 'node id');
    const connection = await connect({
      servers: `${parsed.hostname}:${parsed.port || '4222'}`,
      ...(parsed.username === '' ? {} : { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) }),
      name: `p2pchat-${clusterName}-${nodeId}`,
      noEcho: true,
      timeout: BUS_CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: BUS_RECONNECT_WAIT_MS,
      pingInterval: 1_000,
      maxPingOut: 2,
    });
    const bus = new NatsBus(connection, clusterName, nodeId, onBadMessage);
    bus.subscribe(`${clusterName}.all`);
    bus.subscribe(`${clusterName}.node.${nodeId}`);
    await connection.flush();
    void bus.watchStatus();
    return bus;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  onStatus(listener: (connected: boolean) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  setHandler(handler: (message: ClusterMessage) => void): void {
    this.handler = handler;
    for (const message of this.early.splice(0)) handler(message);
  }

  /**
   * Publishes a message, split in order into several when it is larger than the server takes (its
   * max_payload, 1 MB by default) or the receivers read (BUS_MESSAGE_BYTES_MAX). A node holding
   * some ten thousand users names them all in one message when it says hello or answers one: NATS
   * threw MAX_PAYLOAD_EXCEEDED out of the node's flush and the process died. The parts keep their
   * order (one publisher, one subject); a whole list split so is still whole to the receiver,
   * which waits a lease beat before it takes a user its list did not name offline (cluster.ts).
   */
  publish(message: ClusterMessage): void {
    if (this.connection.isClosed()) return;
    const subject = message.to === null ? `${this.clusterName}.all` : `${this.clusterName}.node.${message.to}`;
    const limit = Math.min(this.connection.info?.max_payload ?? BUS_MESSAGE_BYTES_MAX, BUS_MESSAGE_BYTES_MAX);
    const whole = this.encoder.encode(JSON.stringify(message));
    try {
      if (whole.length <= limit) return this.connection.publish(subject, whole);
      for (const part of splitMessage(message, limit)) this.connection.publish(subject, this.encoder.encode(JSON.stringify(part)));
    } catch (error) {
      // Never out of the node's flush: a word lost on the bus is what a cut bus does too.
      this.onBadMessage(error);
    }
  }

  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    await this.connection.drain().catch(() => this.connection.close());
  }

  private subscribe(subject: string): void {
    const subscription = this.connection.subscribe(subject, {
      callback: (error, message) => {
        if (error !== null) return this.onBadMessage(error);
        let decoded: ClusterMessage;
        try {
          if (message.data.length > BUS_MESSAGE_BYTES_MAX) throw new Error(`bus message of ${message.data.length} bytes`);
          decoded = JSON.parse(this.decoder.decode(message.data)) as ClusterMessage;
          if (typeof decoded.from !== 'string' || !Array.isArray(decoded.items)) throw new Error('bus message without from or items');
        } catch (decodeError) {
          return this.onBadMessage(decodeError);
        }
        if (this.handler !== null) return this.handler(decoded);
        if (this.early.length >= BUS_EARLY_MESSAGES_MAX) this.early.shift();
        this.early.push(decoded);
      },
    });
    this.subscriptions.push(subscription);
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === Events.Disconnect) this.setConnected(false);
      else if (status.type === Events.Reconnect) this.setConnected(true);
    }
  }

  private setConnected(connected: boolean): void {
    if (connected === this.isConnected) return;
    this.isConnected = connected;
    for (const listener of this.statusListeners) listener(connected);
  }
}
