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
import type { ClusterBus, ClusterMessage, NodeId } from '../../core/server/cluster.ts';

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

  publish(message: ClusterMessage): void {
    if (this.connection.isClosed()) return;
    const subject = message.to === null ? `${this.clusterName}.all` : `${this.clusterName}.node.${message.to}`;
    this.connection.publish(subject, this.encoder.encode(JSON.stringify(message)));
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
