/**
 * Server nodes of one test cluster, in this process: each a real server (cli/server/run.ts) on
 * loopback, all on one fresh PostgreSQL schema and one NATS cluster name of their own, so suites
 * running side by side never hear each other. Clients are raw protocol connections.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import { BenchConnection, type LooseFrame } from '../../bench/protocol-client.ts';
import type { ServerOptions } from '../../cli/server/run.ts';
import type { ClientFrame } from '../../core/frames.ts';
import { type ClusterServices, freshPostgresSchema } from './cluster-services.ts';
import { eventually as eventuallyWithin } from './eventually.ts';
import { TEST_SCRYPT, TestServer } from './in-process-server.ts';

export const REPLY_MS = 10_000;

export class TestCluster {
  readonly nodes: TestServer[] = [];
  private readonly connections: BenchConnection[] = [];

  private constructor(
    readonly storeUrl: string,
    readonly busUrl: string,
    private readonly dropSchema: () => Promise<void>,
    private readonly nodeOptions: Partial<ServerOptions>,
  ) {}

  static async create(services: ClusterServices, nodeOptions: Partial<ServerOptions> = {}): Promise<TestCluster> {
    const schema = await freshPostgresSchema(services.postgresUrl);
    const name = `test_${randomBytes(6).toString('hex')}`;
    return new TestCluster(schema.url, `${services.natsUrl.replace(/\/+$/, '')}/${name}`, schema.drop, nodeOptions);
  }

  /** Starts one more node; `options` may point its store or bus through a cut proxy. */
  async addNode(options: Partial<ServerOptions> = {}): Promise<TestServer> {
    const node = await TestServer.start({
      storeUrl: this.storeUrl,
      busUrl: this.busUrl,
      nodeId: `node${this.nodes.length + 1}`,
      tls: false,
      scrypt: TEST_SCRYPT,
      ...this.nodeOptions,
      ...options,
    });
    this.nodes.push(node);
    return node;
  }

  async connect(node: TestServer): Promise<BenchConnection> {
    const connection = await BenchConnection.connect({ port: node.tcpPort, tls: false, timeoutMs: REPLY_MS });
    this.connections.push(connection);
    return connection;
  }

  /** Signs up on `node` and waits until every running node knows the account. */
  async signup(node: TestServer, username: string): Promise<void> {
    const connection = await this.connect(node);
    await connection.request({ type: 'signup', username, password: 'correct horse' }, 'signup.ok', REPLY_MS);
    connection.destroy();
    await eventually(() => this.running().every((n) => n.machine.hasAccount(username)), `every node knows ${username}`);
  }

  /** Logs in on `node` (heartbeating) and waits until every running node sees the user online. */
  async login(node: TestServer, username: string): Promise<LoggedIn> {
    const connection = await this.connect(node);
    const ok = await connection.request({ type: 'login', username, password: 'correct horse' }, 'login.ok', REPLY_MS);
    connection.startHeartbeat();
    await eventually(() => this.running().every((n) => n.machine.isOnline(username)), `every node sees ${username} online`);
    return { connection, ok };
  }

  /**
   * One node per user (user i on node i, started now), each signed up and logged in there
   * (heartbeating), then made friends in `pairs` (the first asks, the second accepts): the setup
   * most cluster tests start from. Nodes and users come back in the order of `usernames`.
   */
  async usersOnNodes<const Names extends readonly string[]>(
    usernames: Names,
    pairs: readonly (readonly [Names[number], Names[number]])[] = [],
  ): Promise<{ nodes: { [K in keyof Names]: TestServer }; users: { [K in keyof Names]: LoggedIn } }> {
    const nodes: TestServer[] = [];
    for (const _ of usernames) nodes.push(await this.addNode());
    const users: LoggedIn[] = [];
    for (const [i, username] of usernames.entries()) await this.signup(nodes[i] as TestServer, username);
    for (const [i, username] of usernames.entries()) users.push(await this.login(nodes[i] as TestServer, username));
    const byName = (username: string) => ({ connection: (users[usernames.indexOf(username)] as LoggedIn).connection, username });
    for (const [a, b] of pairs) await this.befriend(byName(a), byName(b));
    return { nodes, users } as unknown as { nodes: { [K in keyof Names]: TestServer }; users: { [K in keyof Names]: LoggedIn } };
  }

  /** Runs one statement on the cluster's database (as another node's commit the bus never carried). */
  async sql(text: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.storeUrl });
    await client.connect();
    try {
      return (await client.query(text, [...params])).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }

  /** Makes two users friends (a asks on its connection, b accepts on its own). */
  async befriend(a: { connection: BenchConnection; username: string }, b: { connection: BenchConnection; username: string }): Promise<void> {
    const incoming = b.connection.expect('friend.incoming', REPLY_MS);
    await a.connection.request({ type: 'friend.request', username: b.username } as ClientFrame, 'friend.requested', REPLY_MS);
    await incoming;
    const added = a.connection.expect('friend.added', REPLY_MS);
    await b.connection.request({ type: 'friend.accept', username: a.username } as ClientFrame, 'friend.added', REPLY_MS);
    await added;
  }

  running(): TestServer[] {
    return this.nodes.filter((node) => !this.stopped.has(node));
  }

  private readonly stopped = new Set<TestServer>();

  /** Stops a node (its users stay online elsewhere until its lease runs out). */
  async stopNode(node: TestServer): Promise<void> {
    this.stopped.add(node);
    await node.stop();
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    for (const node of this.nodes) await node.close();
    await this.dropSchema();
  }
}

/** A logged-in user's connection and its login.ok. */
export interface LoggedIn {
  readonly connection: BenchConnection;
  readonly ok: LooseFrame;
}

/**
 * A fresh cluster for each test of the suite (its own schema and bus name), closed after the
 * test; the returned function gives the current one. Nothing is made when the services are away.
 */
export function clusterPerTest(services: ClusterServices, nodeOptions: Partial<ServerOptions> = {}): () => TestCluster {
  let cluster: TestCluster | null = null;
  beforeEach(async () => {
    if (services.available) cluster = await TestCluster.create(services, nodeOptions);
  });
  afterEach(async () => {
    await cluster?.close();
    cluster = null;
  });
  return () => {
    if (cluster === null) throw new Error('no cluster outside a test');
    return cluster;
  };
}

/** Waits for a condition the cluster reaches on its own (a bus hop, a lease); polls, bounded. */
export function eventually(check: () => boolean | Promise<boolean>, what: string, boundMs = REPLY_MS): Promise<void> {
  return eventuallyWithin(check, what, boundMs);
}
