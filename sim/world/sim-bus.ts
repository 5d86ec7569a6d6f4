/**
 * The simulated bus between server nodes: core's MemoryBusHub (core/server/cluster.ts) run on the
 * simulator's clock and event queue. Each delivery waits a one-way latency drawn from the "bus"
 * stream, and never arrives before the message published before it (NATS keeps one publisher's
 * order; here the whole bus keeps publish order, which keeps every publisher's).
 *
 * Each start of a node's process connects anew (connect): what is delivered to a process that
 * crashed meanwhile is lost with it, what reaches a paused process waits until it runs again (its
 * scope owns the delivery event), and a restarted node is heard again under the same node id, as
 * a node started again with the same --node-id.
 *
 * A node cut off the bus (`partition`) neither sends nor hears, and its status listener hears that
 * the bus is down, then up again when healed: what a node whose NATS connection dropped sees.
 *
 * TEST-ONLY: with the planted bug `bus-drops-presence` active, every `attached` and `offline` item
 * is taken out of what is published, so no node learns who is online elsewhere (a checker must see it).
 */
import { type ClusterBus, type ClusterItem, type ClusterMessage, MemoryBusHub, type NodeId } from '../../core/server/cluster.ts';
import type { SimPlantedBug } from '../scenarios/scenario-schema.ts';
import type { Prng } from './prng.ts';
import type { LatencySampler } from './network.ts';
import type { Scope, SimClock } from './sim-clock.ts';

export type NodeBus = ClusterBus & { onStatus(listener: (connected: boolean) => void): void };

export interface SimBusStats {
  published: number;
  delivered: number;
  itemsDropped: number;
}

export class SimBus {
  private readonly hub: MemoryBusHub;
  /** When the last delivery is due: later ones never arrive before it. */
  private lastArrivalMs = 0;
  readonly stats: SimBusStats = { published: 0, delivered: 0, itemsDropped: 0 };

  constructor(
    private readonly clock: SimClock,
    private readonly prng: Prng,
    private readonly latency: LatencySampler,
    /** TEST-ONLY bugs in effect now (read at each publish). */
    private readonly planted: ReadonlySet<SimPlantedBug>,
  ) {
    this.hub = new MemoryBusHub((deliver) => this.schedule(deliver));
  }

  /** One process's connection to the bus: it lives and pauses with `scope`. */
  connect(nodeId: NodeId, scope: Scope): NodeBus {
    const inner = this.hub.bus(nodeId);
    const clock = this.clock;
    const stats = this.stats;
    const planted = this.planted;
    return {
      get connected() {
        return inner.connected;
      },
      publish(message: ClusterMessage): void {
        if (!scope.alive) return;
        const sent = planted.has('bus-drops-presence') ? withoutPresence(message, stats) : message;
        if (sent === null) return;
        stats.published += 1;
        inner.publish(sent);
      },
      setHandler(handler: (message: ClusterMessage) => void): void {
        // Handed over through the queue as an event of this process: a paused one hears it later, a dead one never.
        inner.setHandler((message) => {
          clock.post(clock.nowMs(), () => {
            stats.delivered += 1;
            handler(message);
          }, scope);
        });
      },
      onStatus(listener: (connected: boolean) => void): void {
        inner.onStatus((connected) => clock.post(clock.nowMs(), () => listener(connected), scope));
      },
    };
  }

  /** Cuts a node off the bus (true), or brings it back (false). */
  partition(nodeId: NodeId, cut: boolean): void {
    this.hub.partition(nodeId, cut);
  }

  private schedule(deliver: () => void): void {
    const arrivalMs = Math.max(this.clock.nowMs() + Math.max(0, this.latency(this.prng)), this.lastArrivalMs);
    this.lastArrivalMs = arrivalMs;
    this.clock.post(arrivalMs, deliver);
  }
}

/** The message without its presence items (attached, offline); null when nothing else was in it. */
function withoutPresence(message: ClusterMessage, stats: SimBusStats): ClusterMessage | null {
  const items = message.items.filter((item: ClusterItem) => item.kind !== 'attached' && item.kind !== 'offline');
  stats.itemsDropped += message.items.length - items.length;
  if (items.length === message.items.length) return message;
  return items.length === 0 ? null : { ...message, items };
}
