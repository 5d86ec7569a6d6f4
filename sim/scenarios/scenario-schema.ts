/**
 * The scenario schema, version 1: the single source of truth for what a scenario file may say
 * (scenarios/README.md documents it with examples). Validated with zod; the loader
 * (scenario-loader.ts) maps every issue back to a file, line and column.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../core/errors.ts';
import { FRIENDS_PER_USER_MAX, PASSWORD_CHECKS_WAITING_MAX, UNAUTHENTICATED_IDLE_MS } from '../../core/limits.ts';
import { PLANTED_BUGS } from '../world/planted-bugs.ts';
import { HANDSHAKE_ROUND_TRIPS_MAX, MITM_PRESENTS, TLS_HANDSHAKE_CPU_MS, TLS_HANDSHAKE_ROUND_TRIPS, TLS_RESUMED_HANDSHAKE_CPU_SHARE } from '../world/sim-keys.ts';

export const SCENARIO_VERSION = 1;
/**
 * Peers one scenario may ask for: the million-peer storm (scenarios/storms/presence-storm-1m.yaml),
 * which fits one process in 24 GiB (docs/SIMULATOR.md has its figures). Addresses are 10.x.y.z,
 * so 2^24 - 2 peers would be the hard end.
 */
export const SCENARIO_PEERS_MAX = 1_000_000;
export const SCENARIO_DURATION_MS_MAX = 24 * 3_600_000;
export const REPEAT_TIMES_MAX = 10_000;
export const STEPS_DEPTH_MAX = 8;
/** Clock drift a `clock` fault may give a node: 20 % either way, far beyond any real oscillator (~100 ppm), for stress. */
export const CLOCK_DRIFT_PPM_MAX = 200_000;
/** Raw connections one hoardConnections step may hold: beyond any per-address cap, small enough to simulate. */
export const HOARDED_CONNECTIONS_MAX = 10_000;
/** Rounds of malformed input one malformedFrames step may send (11 probes a round, one connection each). */
export const MALFORMED_ROUNDS_MAX = 1_000;
/** A hostile offered name may be this long: far past the receiver's own name limit, within a control frame. */
export const HOSTILE_FILE_NAME_CHARS_MAX = 4_096;
/** Largest synthetic file a sendFile step may send (the receiver holds it in memory). */
export const SIM_FILE_BYTES_MAX = 64 * 1024 * 1024;
/** Server nodes one scenario may run: past MongooseIM's three-node minimum, small enough to read a trace. */
export const CLUSTER_NODES_MAX = 16;

/** The checkers, by the names violations and `expect.invariants` use. */
export const CHECKER_NAMES = [
  'presence-matches-truth',
  'session-needs-yes',
  'session-ends-by-timeout',
  'liveness',
  'no-exception',
  'p2p-integrity',
  'one-final-outcome',
  'presence-only-to-friends',
  'steps-finish',
  'deterministic',
  'announced-is-committed',
  'hostile-refused',
  'bad-input-answered',
  'safe-file-names',
  'served-within-bound',
  'mail-exactly-once',
  'peer-key-refused',
  'size-as-offered',
  'logout-answered',
  'password-truth',
  'chat-failed-cause',
  'asked-once',
  'ends-by-deadline',
  'no-stray-error',
  'rate-limit-honoured',
  'reconnect-backoff',
  'outage-reported',
  'requests-end-with-caller',
] as const;

/** The kinds of step, by the names step outcomes and `underFaults.stepsMayFail` use. */
export const STEP_KINDS = ['signup', 'login', 'logout', 'quit', 'changePassword', 'befriend', 'friendRequest', 'session', 'chat', 'sendFile', 'unfriend', 'p2pHello', 'hoardConnections', 'malformedFrames', 'sendOffline'] as const;

/** A kind of step (any outcome excused), or `kind:outcome` (that outcome only, e.g. `session:timeout`). */
const stepExcuseSchema = z.string().refine((excuse) => (STEP_KINDS as readonly string[]).includes(excuse.split(':', 1)[0] ?? ''), {
  message: `expected a kind of step (${STEP_KINDS.join(', ')}), alone or as kind:outcome`,
});

/**
 * Who plays the users: the sim's light protocol client (server link only; fast, for storms) or the
 * real peer machine of core/peer/ (server link, P2P chat and files).
 */
export const DRIVERS = ['protocol-client', 'peer-machine'] as const;
export type CheckerName = (typeof CHECKER_NAMES)[number];


/**
 * Test-only bugs the simulator plants itself (fault kind `plant`), without touching core/: the
 * server's output is changed on its way to the wire as a buggy server would send it, or the run
 * is made to depend on something outside its seed. Each exists to prove that a checker fires.
 */
export const SIM_PLANTED_BUGS = [
  /** Every session.established and session.failed the server sends goes out twice. */
  'duplicate-session-outcome',
  /** Every presence frame also goes to every other logged-in user, friend or not. */
  'presence-to-everyone',
  /** session.failed frames never leave the server: the caller's request never ends. */
  'drop-session-failed',
  /** session.withdrawn frames never leave the server: a callee whose caller left is asked until the request's timeout. */
  'drop-session-withdrawn',
  /** The trace takes a number that changes from one run to the next in the same process. */
  'nondeterminism',
  /** Receivers write each download under the name its sender offered, unsanitized (a hostile name escapes). */
  'unsafe-download-name',
  /** Several nodes (`cluster`): the simulated bus loses every presence item (attached, offline) between nodes. */
  'bus-drops-presence',
  /** The links' handshakes report the friend's own key even when a man in the middle presented another (a client that never checks). */
  'skip-peer-key-check',
  /** A transfer's final outcome (file.sent, file.failed) reaches the client twice. */
  'duplicate-transfer-outcome',
  /** logout.ok never leaves the server: the user's logout never ends. */
  'drop-logout-ok',
  /**
   * Password guessing locks the account, not the guesser's address: once a username had
   * LOCKOUT_FAILURES_PLANTED failed logins, its owner's own logins are refused RATE_LIMITED.
   */
  'lock-out-guessed-user',
  /** The program a second login displaced is never told LOGGED_IN_ELSEWHERE. */
  'drop-logged-in-elsewhere',
  /** friend.removed never leaves the server: the ex-friend keeps the user in its list. */
  'drop-friend-removed',
  /** A callee answers a P2P hello with a token it never issued (replayed, guessed) with hello.ok instead of refusing it. */
  'greet-any-hello',
  /**
   * Receivers size a download by the bytes that come, not by the offer: a sender that declared
   * fewer bytes than it sends, or more than it sends before file.end, gets its file accepted.
   */
  'trust-sent-size',
  /**
   * The server sends the error of a framing fault that must close the connection (BAD_VERSION,
   * BAD_FRAME_KIND, FRAME_TOO_LARGE, BAD_JSON) but leaves the connection open.
   */
  'keep-open-after-framing-error',
  /** (in the peer-machine driver: what a machine would report) chat.failed never says `incoming`: a callee's failure reads as the end of a chat.open of its own. */
  'chat-failed-not-incoming',
  /** (in the peer-machine driver: what a machine would report) every chat.failed says `timeout`, whatever ended the request. */
  'chat-failed-says-timeout',
  /**
   * (in the peer-machine driver: what a machine would report) a friend's request that a newer one
   * of theirs takes the place of is dropped without a word: its chat.failed `replaced` never
   * reaches the user, so a yes given to it is never answered (the core bug c800c4e fixed).
   */
  'incoming-replaced-silently',
  /**
   * (in the peer-machine driver: what a machine would report) a session request past its
   * session.established whose P2P set-up runs out of time ends without a word: the chat.failed
   * `timeout` of the caller's hello that no callee answered, and of the token a callee held for a
   * hello that never came, never reaches the user, as from a machine that never arms its P2P
   * timers (the hello's, the held token's).
   */
  'p2p-timeout-silent',
  /**
   * (in the peer-machine driver: what a machine would report) the server's error answering a
   * session request, answer or withdrawal also reaches the user as an error event, besides what
   * the session broker makes of it (a broker that claims no reply, or a stale one).
   */
  'show-session-replies',
  /**
   * The server's password-guess slow-down never slows anyone: every login past the free ones is
   * let through to the password check at once (LOGIN_GUESS_DELAY_MS never applied). Each guess is
   * still answered, so only rate-limit-honoured, which holds the server to the documented delays,
   * can tell (sim/world/planted-bugs.ts plantGuessSlowDownBug).
   */
  'guesses-never-slowed',
  /**
   * The server's password-check wait line serves the oldest wait of all (first come, first served)
   * instead of the address served longest ago: a flood from one address holds everyone else back
   * (sim/world/planted-bugs.ts plantFirstComeLine).
   */
  'password-checks-first-come',
] as const;
export type SimPlantedBug = (typeof SIM_PLANTED_BUGS)[number];

const ms = z.number().nonnegative().max(SCENARIO_DURATION_MS_MAX);
const positiveMs = z.number().positive().max(SCENARIO_DURATION_MS_MAX);
const fraction = z.number().min(0).max(1);
const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a lower-case name: a-z, 0-9, dot, dash, underscore')
  .min(3)
  .max(26);

/** A distribution of milliseconds: a number is a constant. */
export const distSchema = z.union([
  ms,
  z.strictObject({ constant: ms }),
  z.strictObject({ uniform: z.tuple([ms, ms]) }),
  z.strictObject({ exponential: positiveMs.describe('mean') }),
  z.strictObject({ normal: z.strictObject({ mean: ms, sd: ms }) }),
  z.strictObject({ lognormal: z.strictObject({ median: positiveMs, sigma: z.number().positive().max(5) }) }),
]);
export type Dist = z.infer<typeof distSchema>;

const expectOutcome = z.string().min(1).max(64).optional();
/** A bound on a legitimate user's step: it must end as expected this soon while attackers run (checker served-within-bound). */
const withinMs = positiveMs.optional();

export type Step =
  | 'signup'
  | 'login'
  | 'logout'
  | 'befriend'
  | 'silent'
  | 'crash'
  | 'quit'
  | { signup: { password?: string | undefined; expect?: string | undefined; withinMs?: number | undefined } }
  | { login: { password?: string | undefined; expect?: string | undefined; withinMs?: number | undefined } }
  | { logout: { expect?: string | undefined } }
  | { quit: { logoutFirst?: boolean | undefined; signal?: boolean | undefined; expect?: string | undefined } }
  | { changePassword: { to: string; old?: string | undefined; expect?: string | undefined } }
  | { think: Dist }
  | { choose: Array<{ p: number; steps: Step[] }> }
  | { repeat: { times: number; steps: Step[] } }
  | { friendRequest: { to: string; expect?: string | undefined; withinMs?: number | undefined } }
  | { session: { with: string; expect?: string | undefined; withinMs?: number | undefined } }
  | { answer: 'accept' | 'reject' | 'ignore' | { policy: 'accept' | 'reject' | 'ignore'; delay?: Dist | undefined } }
  | { chat: { with: string; messages: number } }
  | { sendOffline: { with: string; messages: number } }
  | { sendFile: SendFileStep }
  | { crash: { downMs?: number | undefined } }
  | { unfriend: { with: string; expect?: string | undefined } }
  | { answerFriends: { policy: 'accept' | 'decline' | 'ignore'; accept?: string[] | undefined } }
  | { p2pHello: { to: string; token: 'guess' | 'replay'; as?: string | undefined; expect?: string | undefined } }
  | { hoardConnections: { count: number; renew?: boolean | undefined } }
  | { malformedFrames: { rounds?: number | undefined } };

/** A sendFile step; name, declaredBytes, wrongDigest and stall make the sender hostile (the receiver must cope). */
export interface SendFileStep {
  with: string;
  bytes: number;
  cancelAfterMs?: number | undefined;
  withinMs?: number | undefined;
  expect?: string | undefined;
  /** The name offered, as is (a hostile one: "../x", "CON", a lone surrogate); default file-N.bin. */
  name?: string | undefined;
  /** The size the offer declares, when it lies about the bytes that follow (all of which are sent). */
  declaredBytes?: number | undefined;
  /** The final frame (file.end) carries a digest that is not the bytes'. */
  wrongDigest?: boolean | undefined;
  /** The offer goes out and no byte ever follows (a slot hoarder). */
  stall?: boolean | undefined;
}

export const stepSchema: z.ZodType<Step> = z.lazy(() =>
  z.union([
    z.enum(['signup', 'login', 'logout', 'befriend', 'silent', 'crash', 'quit']),
    z.strictObject({ signup: z.strictObject({ password: z.string().optional(), expect: expectOutcome, withinMs }) }),
    z.strictObject({
      login: z.strictObject({
        password: z.string().optional().describe('"wrong" for a wrong one; default: the peer\'s own'),
        expect: expectOutcome,
        withinMs,
      }),
    }),
    z.strictObject({ logout: z.strictObject({ expect: expectOutcome }) }),
    /**
     * The user quits the program (driver peer-machine): logged in, the client logs out first and
     * waits at most QUIT_LOGOUT_WAIT_MS for the answer; `logoutFirst` types a logout just before;
     * `signal`: the quit is a signal (Ctrl-C, SIGTERM), which the headless client hands the machine
     * at once, past its command queue, instead of a typed quit.
     */
    z.strictObject({ quit: z.strictObject({ logoutFirst: z.boolean().optional(), signal: z.boolean().optional(), expect: expectOutcome }) }),
    /** account.password from the password the peer last logged in with to `to` (driver peer-machine). */
    z.strictObject({ changePassword: z.strictObject({ to: z.string().min(8).max(128), old: z.string().min(1).max(128).optional(), expect: expectOutcome }) }),
    z.strictObject({ think: distSchema }),
    z.strictObject({ choose: z.array(z.strictObject({ p: fraction, steps: z.array(stepSchema) })).min(1).max(16) }),
    z.strictObject({ repeat: z.strictObject({ times: z.number().int().min(1).max(REPEAT_TIMES_MAX), steps: z.array(stepSchema).min(1) }) }),
    z.strictObject({ friendRequest: z.strictObject({ to: z.string().min(1), expect: expectOutcome, withinMs }) }),
    z.strictObject({
      session: z.strictObject({ with: z.string().min(1).describe('a username, or random-friend'), expect: expectOutcome, withinMs }),
    }),
    z.strictObject({
      answer: z.union([
        z.enum(['accept', 'reject', 'ignore']),
        z.strictObject({ policy: z.enum(['accept', 'reject', 'ignore']), delay: distSchema.optional() }),
      ]),
    }),
    z.strictObject({ chat: z.strictObject({ with: z.string().min(1), messages: z.number().int().min(1).max(10_000) }) }),
    /** Chat messages sent with no session open: sealed and held by the server until the friend takes them. */
    z.strictObject({ sendOffline: z.strictObject({ with: z.string().min(1), messages: z.number().int().min(1).max(10_000) }) }),
    z.strictObject({
      sendFile: z.strictObject({
        with: z.string().min(1),
        bytes: z.number().int().min(0).max(SIM_FILE_BYTES_MAX),
        /** The sender cancels the transfer this long after offering it (mid-transfer, if it is still going). */
        cancelAfterMs: ms.optional(),
        withinMs,
        expect: expectOutcome,
        name: z.string().max(HOSTILE_FILE_NAME_CHARS_MAX).optional(),
        declaredBytes: z.number().int().min(0).max(SIM_FILE_BYTES_MAX).optional(),
        wrongDigest: z.boolean().optional(),
        stall: z.boolean().optional(),
      }),
    }),
    z.strictObject({ crash: z.strictObject({ downMs: ms.optional() }) }),
    /** Ends the friendship (friend.remove), whatever is going on between the two. */
    z.strictObject({ unfriend: z.strictObject({ with: z.string().min(1), expect: expectOutcome }) }),
    /** How incoming friend requests are answered from now on (default accept); `accept` lists the ones accepted anyway. */
    z.strictObject({
      answerFriends: z.strictObject({ policy: z.enum(['accept', 'decline', 'ignore']), accept: z.array(z.string().min(1)).max(64).optional() }),
    }),
    /** Hostile: a raw connection to `to`'s P2P port with a hello bearing a guessed token or one already used. */
    z.strictObject({
      p2pHello: z.strictObject({
        to: z.string().min(1),
        token: z.enum(['guess', 'replay']),
        /** The username the hello claims (default: the attacker's own). */
        as: z.string().min(1).optional(),
        expect: expectOutcome,
      }),
    }),
    /** Hostile: open `count` raw connections to the server that never log in; with renew, open a new one for each the server closes. */
    z.strictObject({ hoardConnections: z.strictObject({ count: z.number().int().min(1).max(HOARDED_CONNECTIONS_MAX), renew: z.boolean().optional() }) }),
    /** Hostile: raw connections to the server sending bytes no client would, each kind once a round. */
    z.strictObject({ malformedFrames: z.strictObject({ rounds: z.number().int().min(1).max(MALFORMED_ROUNDS_MAX).optional() }) }),
  ]),
);

const populationSchema = z.strictObject({
  name,
  count: z.number().int().min(1).max(SCENARIO_PEERS_MAX).default(1),
  behaviour: z.string().min(1),
  /** seeded: the account exists before the run (written to the store); none: the peer must sign up. */
  account: z.enum(['seeded', 'none']).default('seeded'),
  /** Only with count 1: the username to use instead of the name (to collide on purpose). */
  username: name.optional(),
  /** With `cluster`: the node these users' programs connect to first (default: round robin by peer). */
  node: name.optional(),
  /**
   * These users' machines share one IPv6 /64 (an office, a household, one host's many addresses):
   * each gets its own address in the site's prefix, and the server's per-address limits count them
   * together. Populations naming the same site share it. Absent: each user has an IPv4 address of
   * its own.
   */
  site: name.optional(),
});

const friendsSchema = z.strictObject({
  /** seeded: friendships exist before the run; requested: peers make them with the befriend step. */
  mode: z.enum(['seeded', 'requested']).default('seeded'),
  pairs: z.array(z.tuple([z.string(), z.string()])).default([]),
  random: z.strictObject({ meanDegree: z.number().min(0).max(500) }).optional(),
  powerLaw: z.strictObject({ meanDegree: z.number().min(0).max(500), exponent: z.number().min(1.5).max(4).default(2.5) }).optional(),
  /** No peer gets more friends than this (default: the server's FRIENDS_PER_USER_MAX). */
  maxDegree: z.number().int().min(1).max(FRIENDS_PER_USER_MAX).optional(),
});

const arrivalSchema = z.strictObject({
  durationMs: positiveMs,
  /** Peers starting per second at the phase start. */
  rate: z.number().min(0).max(1_000_000),
  /** Rate at the phase end (linear ramp); default: the same rate. */
  rampTo: z.number().min(0).max(1_000_000).optional(),
});

/** The session frames a `session-loss` fault may lose on their way to a client. */
export const SESSION_LOSS_FRAMES = ['session.pending', 'session.failed'] as const;
/** The client frames a `session-loss` fault may refuse. */
export const SESSION_LOSS_REQUESTS = ['session.request', 'session.answer'] as const;

/** Who a fault hits: named peers, or a seeded random fraction of all peers. */
const targets = {
  peers: z.array(z.string()).optional(),
  fraction: fraction.optional(),
};

export const faultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('server-crash'), atMs: ms, downMs: ms }),
  z.strictObject({ kind: z.literal('peer-crash'), atMs: ms, downMs: ms.optional(), ...targets }),
  z.strictObject({ kind: z.literal('partition'), atMs: ms, durationMs: positiveMs, isolate: z.literal('server').optional(), ...targets }),
  z.strictObject({ kind: z.literal('clog'), atMs: ms, durationMs: positiveMs, target: z.literal('server').optional(), ...targets }),
  z.strictObject({ kind: z.literal('degrade'), atMs: ms, durationMs: positiveMs, latency: distSchema, bandwidthBytesPerSec: z.number().positive().optional() }),
  z.strictObject({ kind: z.literal('reset'), atMs: ms, ...targets }),
  /** The process stops (SIGSTOP, a GC pause): it hears nothing and its timers fire late, then it resumes. */
  z.strictObject({ kind: z.literal('pause'), atMs: ms, durationMs: positiveMs, target: z.literal('server').optional(), ...targets }),
  /** The server's store: `fail` kills the server at its next apply, `stall` makes each apply stop it for stallMs; `lose` is TEST-ONLY. */
  z.strictObject({
    kind: z.literal('store'),
    atMs: ms,
    durationMs: positiveMs,
    mode: z.enum(['fail', 'stall', 'lose']),
    stallMs: positiveMs.default(1_000),
    /** After a failed apply: how long the server stays down before it restarts. */
    downMs: ms.default(1_000),
  }),
  /** The node's own clock runs driftPpm fast (negative: slow) after stepping skewMs forward; back to the true rate after durationMs. */
  z.strictObject({
    kind: z.literal('clock'),
    atMs: ms,
    driftPpm: z.number().min(-CLOCK_DRIFT_PPM_MAX).max(CLOCK_DRIFT_PPM_MAX),
    skewMs: ms.default(0),
    durationMs: positiveMs.optional(),
    target: z.literal('server').optional(),
    ...targets,
  }),
  /** With `cluster`: a server node's process dies; it restarts after downMs (omitted: it stays dead until the healed phase). */
  z.strictObject({ kind: z.literal('node-crash'), atMs: ms, node: name, downMs: ms.optional() }),
  /** With `cluster`: a node loses the bus for durationMs (it keeps its clients, reports degraded and refuses logins). */
  z.strictObject({ kind: z.literal('bus-partition'), atMs: ms, node: name, durationMs: positiveMs }),
  /**
   * A man in the middle in front of the target peers (on their LAN): every P2P link to or from
   * them that opens from atMs on (for durationMs, else to the end of the run) ends at the
   * attacker, who proves its own key to both sides, or none (`presents: no-key`: TLS stripped).
   */
  z.strictObject({ kind: z.literal('mitm'), atMs: ms, durationMs: positiveMs.optional(), presents: z.enum(MITM_PRESENTS).default('attacker-key'), ...targets }),
  /**
   * The server loses or refuses the session outcomes of the target peers (a node gone mid-request,
   * a server shedding load): from atMs (for durationMs, else to the end of the run), `drop` loses
   * the next `count` frames of the types in `frames` the server sends each target; `refuse` answers
   * each target's next `count` frames of the types in `requests` (session.request, session.answer)
   * with error `code` instead of taking them, `lateMs`
   * later (past the client's own wait, the refusal is a stale reply). sim/world/planted-output.ts.
   */
  z.strictObject({
    kind: z.literal('session-loss'),
    atMs: ms,
    durationMs: positiveMs.optional(),
    mode: z.enum(['drop', 'refuse']).default('drop'),
    frames: z.array(z.enum(SESSION_LOSS_FRAMES)).min(1).default([...SESSION_LOSS_FRAMES]),
    count: z.number().int().min(1).max(1_000).default(1),
    /** refuse: which of the targets' session frames are refused (a caller's request, a callee's answer). */
    requests: z.array(z.enum(SESSION_LOSS_REQUESTS)).min(1).default(['session.request']),
    code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]).default('SERVER_DEGRADED'),
    lateMs: ms.default(0),
    ...targets,
  }),
  /** TEST-ONLY: plants one of SIM_PLANTED_BUGS from atMs on (for durationMs, else to the end of the run). */
  z.strictObject({ kind: z.literal('plant'), atMs: ms, bug: z.enum(SIM_PLANTED_BUGS), durationMs: positiveMs.optional() }),
]);
export type Fault = z.infer<typeof faultSchema>;

const thresholdSchema = z.strictObject({ min: z.number().optional(), max: z.number().optional() });

export const scenarioSchema = z
  .strictObject({
    version: z.literal(SCENARIO_VERSION),
    name: z.string().max(200).optional(),
    description: z.string().max(4000).optional(),
    /** Default seed when --seed is not given. */
    seed: z.number().int().min(0).max(0xffff_ffff).optional(),
    /** Capabilities the scenario needs beyond the server link: p2p waits for the issue-3 peer machine. */
    requires: z.array(z.enum(['p2p'])).default([]),
    /** Which PeerDriver plays the users: the real peer machine, or the light client for storms. */
    driver: z.enum(DRIVERS).default('peer-machine'),
    /** The workload phase; faults and behaviour steps happen in it. */
    durationMs: positiveMs,
    /** The healed liveness phase after it (default: TTL + session timeout + presence bound). */
    livenessMs: ms.optional(),
    server: z
      .strictObject({
        ttlMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
        sessionTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
        hashCostMs: ms.default(20),
        connectionsMax: z.number().int().min(1).max(2 * SCENARIO_PEERS_MAX).default(19_900),
        /** Closes a connection that has not logged in within this long. */
        unauthenticatedIdleMs: z.number().int().min(1_000).max(3_600_000).default(UNAUTHENTICATED_IDLE_MS),
        /** Draw ttlMs, sessionTimeoutMs and unauthenticatedIdleMs per seed, between a quarter of these values (or a floor) and the values. */
        randomLimits: z.boolean().default(false),
        /**
         * Password checks the server runs at once (the shipped server: one per core, at most 4).
         * Absent: as many as are asked for (the simulated hasher costs time, not CPU); set, the
         * server's fair wait line for checks (core/rate-limit.ts FairQueue) comes into play.
         */
        passwordChecksRunningMax: z.number().int().min(1).max(64).optional(),
        /**
         * Password checks that may wait for one (the shipped server: PASSWORD_CHECKS_WAITING_MAX,
         * 2048). Smaller, a flood of a few dozen clients fills the line: a newcomer then pushes out
         * the newest wait of the address holding the most, or is answered BUSY.
         */
        passwordChecksWaitingMax: z.number().int().min(1).max(PASSWORD_CHECKS_WAITING_MAX).optional(),
        plantedBug: z.enum(PLANTED_BUGS).optional(),
      })
      .prefault({}),
    /**
     * Several server nodes sharing one store and one bus (docs/CLUSTER.md), each the shipped server
     * machine with the shipped cluster routing. Absent: one server, as before.
     */
    cluster: z
      .strictObject({
        /** The nodes' ids, in order (round robin assigns users in this order). */
        nodes: z.array(name).min(2).max(CLUSTER_NODES_MAX),
        /** One-way delay of a bus message (the bus keeps each publisher's order). */
        busLatency: distSchema.default({ uniform: [0.2, 2] }),
        /**
         * How clients reach the nodes: `balanced`, a TCP load balancer that health-checks each node
         * (down, or cut off the bus) and sends a new connection to the user's own node when healthy,
         * else to the next healthy one; `pinned`, each user always dials its own node.
         */
        clients: z.enum(['balanced', 'pinned']).default('balanced'),
      })
      .optional(),
    network: z
      .strictObject({
        latency: distSchema.default({ uniform: [2, 20] }),
        bandwidthBytesPerSec: z.number().positive().default(12_500_000),
        /** What a link's TLS handshake costs before either side sees it (sim/world/sim-keys.ts); roundTrips 0 and cpuMs 0: bare TCP. */
        handshake: z
          .strictObject({
            roundTrips: z.number().int().min(0).max(HANDSHAKE_ROUND_TRIPS_MAX).default(TLS_HANDSHAKE_ROUND_TRIPS),
            cpuMs: distSchema.default(TLS_HANDSHAKE_CPU_MS),
            /** A resumed P2P handshake's CPU (a reopened link, from a TLS ticket) as a share of cpuMs's draw. */
            resumedCpuShare: z.number().min(0).max(1).default(TLS_RESUMED_HANDSHAKE_CPU_SHARE),
            /** The server link shakes hands too (TLS to the server); false: only P2P links do. */
            serverLink: z.boolean().default(true),
          })
          .prefault({}),
      })
      .prefault({}),
    checks: z
      .strictObject({
        /** Slack beyond the TTL for presence to agree with the truth once links are healthy. */
        presenceBoundMs: positiveMs.default(10_000),
        /** How often the sweeping checkers look. */
        sweepEveryMs: positiveMs.default(2_000),
      })
      .prefault({}),
    populations: z.array(populationSchema).min(1).max(64),
    friends: friendsSchema.prefault({}),
    arrivals: z.array(arrivalSchema).max(64).optional(),
    behaviours: z.record(name, z.array(stepSchema).max(256)),
    faults: z.array(faultSchema).max(1_000).default([]),
    /**
     * What faults excuse. The swarm adds random faults and fails a run on a violation or on a step
     * whose `expect` it missed, unless that kind of step is listed here (a login may fail while the
     * server is down; a scripted answer to a session may not come across a partition), or that kind
     * with that outcome (`session:timeout`: the answer may be late, but a `rejected` is a bug).
     * Outcomes that only say a step could not be served are excused under the faults the swarm drew
     * itself (sim/swarm/swarm.ts, FAULT_SHAPED_OUTCOMES).
     */
    underFaults: z.strictObject({ stepsMayFail: z.array(stepExcuseSchema).default([]) }).prefault({}),
    expect: z
      .strictObject({
        metrics: z.record(z.string(), thresholdSchema).default({}),
        invariants: z.array(z.enum(CHECKER_NAMES)).default([]),
      })
      .prefault({}),
  })
  .superRefine((scenario, ctx) => {
    let peers = 0;
    scenario.populations.forEach((population, index) => {
      peers += population.count;
      if (scenario.behaviours[population.behaviour] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['populations', index, 'behaviour'], message: `expected one of the behaviours: ${Object.keys(scenario.behaviours).join(', ')}` });
      }
      if (population.username !== undefined && population.count !== 1) {
        ctx.addIssue({ code: 'custom', path: ['populations', index, 'username'], message: 'expected username only on a population of count 1' });
      }
    });
    const known = (username: string): boolean => scenario.populations.some((p) => isUsernameOf(p, username));
    scenario.friends.pairs.forEach((pair, index) => {
      pair.forEach((username, side) => {
        if (!known(username)) ctx.addIssue({ code: 'custom', path: ['friends', 'pairs', index, side], message: `expected a username of a population, got "${username}"` });
      });
    });
    scenario.faults.forEach((fault, index) => {
      const peers = 'peers' in fault ? fault.peers : undefined;
      peers?.forEach((username, at) => {
        if (!known(username)) ctx.addIssue({ code: 'custom', path: ['faults', index, 'peers', at], message: `expected a username of a population, got "${username}"` });
      });
    });
    for (const [behaviour, steps] of Object.entries(scenario.behaviours)) {
      checkStepTargets(steps, ['behaviours', behaviour], known, ctx);
    }
    const nodes = scenario.cluster?.nodes ?? [];
    if (new Set(nodes).size !== nodes.length) ctx.addIssue({ code: 'custom', path: ['cluster', 'nodes'], message: 'expected each node id once' });
    const knownNode = (node: string, path: Array<string | number>): void => {
      if (!nodes.includes(node)) ctx.addIssue({ code: 'custom', path, message: nodes.length === 0 ? 'expected a `cluster` section naming the nodes' : `expected one of the nodes: ${nodes.join(', ')}` });
    };
    scenario.populations.forEach((population, index) => {
      if (population.node !== undefined) knownNode(population.node, ['populations', index, 'node']);
    });
    scenario.faults.forEach((fault, index) => {
      if (fault.kind === 'node-crash' || fault.kind === 'bus-partition') knownNode(fault.node, ['faults', index, 'node']);
    });
    if (scenario.requires.includes('p2p') && scenario.driver !== 'peer-machine') {
      ctx.addIssue({ code: 'custom', path: ['driver'], message: 'expected driver: peer-machine (requires: [p2p] needs the real peer machine)' });
    }
    if (peers > SCENARIO_PEERS_MAX) ctx.addIssue({ code: 'custom', path: ['populations'], message: `expected at most ${SCENARIO_PEERS_MAX} peers in all, got ${peers}` });
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** Whether a population names this user: its name (count 1, or its username override), else name0..name(count-1). */
export function isUsernameOf(population: { name: string; count: number; username?: string | undefined }, username: string): boolean {
  if (population.count === 1) return username === (population.username ?? population.name);
  if (!username.startsWith(population.name)) return false;
  const suffix = username.slice(population.name.length);
  return /^(0|[1-9][0-9]*)$/.test(suffix) && Number(suffix) < population.count;
}

function checkStepTargets(steps: readonly Step[], path: Array<string | number>, known: (username: string) => boolean, ctx: z.RefinementCtx): void {
  steps.forEach((step, index) => {
    if (typeof step === 'string') return;
    const here = [...path, index];
    const target = (key: string, username: string): void => {
      if (username !== 'random-friend' && !known(username)) {
        ctx.addIssue({ code: 'custom', path: [...here, key], message: `expected a username of a population or random-friend, got "${username}"` });
      }
    };
    if ('session' in step) target('session', step.session.with);
    if ('chat' in step) target('chat', step.chat.with);
    if ('sendOffline' in step) target('sendOffline', step.sendOffline.with);
    if ('sendFile' in step) target('sendFile', step.sendFile.with);
    if ('unfriend' in step) target('unfriend', step.unfriend.with);
    if ('p2pHello' in step) target('p2pHello', step.p2pHello.to);
    // friendRequest.to may name a stranger on purpose (USER_NOT_FOUND), so it is not checked.
    if ('choose' in step) step.choose.forEach((branch, b) => checkStepTargets(branch.steps, [...here, 'choose', b, 'steps'], known, ctx));
    if ('repeat' in step) checkStepTargets(step.repeat.steps, [...here, 'repeat', 'steps'], known, ctx);
  });
}
