/**
 * Every limit of the protocol, in one place. Units are last in each name.
 * The server and the peers import these; docs/PROTOCOL.md lists them with their reasons.
 */

/** Wire format version carried in every frame header. A peer speaking another version is refused. */
export const PROTOCOL_VERSION = 1;

/**
 * Largest control (JSON) payload a client accepts: sized for the largest frame the server sends,
 * a login.ok or friends list at FRIENDS_PER_USER_MAX friends (see LIST_FRAME_BYTES_WORST below).
 */
export const CONTROL_FRAME_BYTES_MAX = 512 * 1024;
/** Largest frame payload, control or data, any decoder accepts. Checked from the length prefix. */
export const FRAME_BYTES_MAX = 512 * 1024;
/**
 * Largest frame a client may send the server. The biggest legitimate one (a sign-up) is under
 * 1 KiB; a small limit bounds what 19,900 connections can make the server buffer (~311 MiB).
 */
export const SERVER_INBOUND_FRAME_BYTES_MAX = 16 * 1024;
/**
 * File data travels in chunks of this size (well under FRAME_BYTES_MAX). Each chunk costs the
 * sender a read answer, a trip through the machine and a socket write (a syscall that on loopback
 * also runs the receiver's TCP path): 256 KiB chunks cut the sender's CPU per file by about a
 * third and moved 128 MiB about a tenth faster than 64 KiB on the 2-core bench machine. Kept at
 * 64 KiB for now: the benchmark's bare-pipe baseline writes in chunks of this size and nearly
 * doubles with 256 KiB, so the choice is the benchmark's too (see docs/BENCHMARKS.md). The
 * receiver does not see the chunk size: it takes each socket read's share of a frame as it
 * arrives (FrameDecoder dataFragments), so no frame is ever buffered or copied whole.
 */
export const FILE_CHUNK_BYTES = 64 * 1024;

export const USERNAME_CHARS_MIN = 3;
export const USERNAME_CHARS_MAX = 32;
/** Lower-case letters, digits, dot, dash and underscore; must start with a letter or digit. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
export const PASSWORD_CHARS_MIN = 8;
export const PASSWORD_CHARS_MAX = 128;
export const NICKNAME_CHARS_MAX = 64;
export const TEXT_MESSAGE_CHARS_MAX = 16 * 1024;
export const P2P_HOST_CHARS_MAX = 255;
export const TOKEN_CHARS_MAX = 128;

/** JSON bytes of one `"identity":{...}` field with both keys (44-byte SPKI DER, 60 base64 chars each). */
export const IDENTITY_JSON_BYTES = 25 + 60 + 13 + 60 + 2;

/** Mutual friends one account may have. */
export const FRIENDS_PER_USER_MAX = 1000;
/**
 * Friend requests waiting on one account, counted apart: strangers filling someone's incoming
 * quota (sybil accounts) must never stop that person asking anyone, so outgoing has its own.
 */
export const FRIEND_REQUESTS_INCOMING_PER_USER_MAX = 100;
export const FRIEND_REQUESTS_OUTGOING_PER_USER_MAX = 100;
/**
 * After a decline, the declined user may not ask the same person again for this long
 * (DECLINED_RECENTLY): otherwise a declined request comes straight back. Stored with the accounts,
 * so a server restart does not let the declined ask again at once (at most RATE_LIMIT_BUCKETS_MAX
 * declines are kept, the oldest forgotten first); `friend.block` is the lasting answer.
 */
export const FRIEND_REQUEST_DECLINE_COOLDOWN_MS = 24 * 3_600_000;
/** Users one account may block: bounds the stored rows and the in-memory set per account. */
export const BLOCKS_PER_USER_MAX = 1000;
/**
 * Worst-case JSON bytes of one friend entry: {"username":"<32 ASCII>","nickname":"<64 UTF-16
 * units, at most 3 UTF-8 bytes each: lone surrogates, which JSON would escape to 6, are refused>",
 * "status":"offline"}, plus a comma; the friend's identity keys,
 * ,"identity":{"signKey":"<60 base64>","sealKey":"<60 base64>"}; and when the friendship began,
 * ,"since":<ms, 16 digits at most>.
 */
const FRIEND_ENTRY_BYTES_WORST = 13 + USERNAME_CHARS_MAX + 14 + NICKNAME_CHARS_MAX * 3 + 21 + 1 + IDENTITY_JSON_BYTES + 9 + 16;
/** Worst-case login.ok or friends frame: every friend, every pending request, and the envelope. */
export const LIST_FRAME_BYTES_WORST =
  FRIENDS_PER_USER_MAX * FRIEND_ENTRY_BYTES_WORST + (FRIEND_REQUESTS_INCOMING_PER_USER_MAX + FRIEND_REQUESTS_OUTGOING_PER_USER_MAX) * (USERNAME_CHARS_MAX + 3) + 1024;
/**
 * Chat-session requests one user may have open at once as caller, and, apart, as callee: one
 * count for both let sixteen friends asking at once keep a user from asking anyone.
 */
export const SESSION_REQUESTS_PENDING_PER_USER_MAX = 16;
/** Session outcomes held for a detached user until it resumes (the oldest go first): one per request it can be in, both sides. */
export const SESSION_OUTCOMES_HELD_MAX = 2 * SESSION_REQUESTS_PENDING_PER_USER_MAX;

// ---- offline messages: the server's mailbox of sealed messages -----------------------------------

/**
 * Largest sealed offline message, in bytes before base64: a mail.send frame carries it as base64
 * (4/3 of it) and must stay within SERVER_INBOUND_FRAME_BYTES_MAX. Texts too long for it go peer
 * to peer only (the client answers MESSAGE_TOO_LONG when no session is open).
 */
export const MAIL_SEALED_BYTES_MAX = 8 * 1024;
/** Sealed messages one recipient's mailbox holds, all senders together (MAILBOX_FULL beyond). */
export const MAILBOX_MESSAGES_PER_RECIPIENT_MAX = 400;
/** Sealed bytes one recipient's mailbox holds, all senders together: 400 full messages. */
export const MAILBOX_BYTES_PER_RECIPIENT_MAX = MAILBOX_MESSAGES_PER_RECIPIENT_MAX * MAIL_SEALED_BYTES_MAX;
/**
 * One sender's share of a recipient's mailbox, in messages and bytes: a quarter, so one friend
 * sending without pause fills its own share (MAILBOX_FULL for it alone) and the others can still
 * reach the recipient. Only friends may leave mail, and each has its own share.
 */
export const MAILBOX_MESSAGES_PER_SENDER_MAX = MAILBOX_MESSAGES_PER_RECIPIENT_MAX / 4;
export const MAILBOX_BYTES_PER_SENDER_MAX = MAILBOX_BYTES_PER_RECIPIENT_MAX / 4;
/**
 * Sealed messages the server pushes to a client before that client acknowledges them: a mailbox
 * is handed over in windows, so a full one never lands in a slow client's send queue at once.
 */
export const MAIL_DELIVERIES_IN_FLIGHT_MAX = 16;
/**
 * Delivery receipts the server holds for a sender who was offline when its mail was acknowledged
 * (pushed at its next login); the oldest go first past it.
 */
export const MAIL_RECEIPTS_HELD_PER_USER_MAX = 1000;
/**
 * Mail ids a client remembers having shown, so a delivery repeated after a lost acknowledgement
 * is acknowledged again but not shown twice.
 */
export const MAIL_IDS_REMEMBERED_MAX = 1024;

/** Default time-to-live of a login without a heartbeat. */
export const TTL_MS_DEFAULT = 30_000;
/** Clients heartbeat this many times per TTL, so one lost heartbeat does not log them out. */
export const HEARTBEATS_PER_TTL = 3;
export const TTL_MS_MIN = 1_000;
export const TTL_MS_MAX = 3_600_000;
/** Default time a callee has to answer a chat-session request. */
export const SESSION_REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
/**
 * A connection not logged in that has asked nothing for this long is closed (slowloris and idle
 * scanners). Counted from its opening, its logout or TTL expiry, or the answer to its last sign-up,
 * login or resume, and never while one of them is in progress: the server's own work (a password
 * check waiting its turn, then scrypt) is not the client's idleness, and a client cannot send its
 * next step (log in after signup.ok, retype after BAD_CREDENTIALS) before it has the answer.
 */
export const UNAUTHENTICATED_IDLE_MS = 30_000;
/**
 * A connection not logged in is closed at the latest this many idle limits (2 minutes by default)
 * after it opened or was logged out, however often it asks, so a client that keeps sending
 * requests (a bad resume every 29 s costs it nothing) cannot hold a socket unauthenticated forever.
 * Room for a sign-up, a login and a few retries typed by hand; a request in progress at that
 * moment is answered first, and a client before login reconnects quietly (docs/CLIENT.md).
 */
export const UNAUTHENTICATED_LIFETIME_IDLE_LIMITS = 4;
/** Password hashing jobs one connection may have in flight: one, so a client cannot queue scrypt work. */
export const AUTH_JOBS_PER_CONNECTION_MAX = 1;

/**
 * Password guesses slow down, they never lock an account: counted per (username, source address
 * or IPv6 /64), so a stranger's guesses never touch the owner logging in from elsewhere (nor a
 * resume, which needs no password). The first LOGIN_GUESSES_FREE attempts from one address go
 * through at once (typos); each further one must wait LOGIN_GUESS_DELAY_MS_MIN after the previous,
 * doubled per attempt up to LOGIN_GUESS_DELAY_MS_MAX: about 60 guesses an hour per address and
 * username, where a lock would have handed every stranger a way to shut the owner out.
 */
export const LOGIN_GUESSES_FREE = 5;
export const LOGIN_GUESS_DELAY_MS_MIN = 1_000;
export const LOGIN_GUESS_DELAY_MS_MAX = 60_000;
/** A (username, address) pair with no attempt for this long starts from scratch. */
export const LOGIN_GUESSES_FORGET_MS = 15 * 60_000;
/**
 * Password checks (scrypt, sign-ups included) running at once, at most: libuv's thread pool has 4
 * threads, and more would only wait inside libuv, where they cannot be reordered fairly. The
 * server runs one per core up to this (2 on a 2-core machine): more side by side only slow each
 * one down, a legitimate login's included, for the same throughput.
 */
export const PASSWORD_CHECKS_RUNNING_MAX = 4;
/**
 * Password checks waiting for a thread, all addresses together. Shared fairly (core/rate-limit.ts
 * FairQueue): the address served longest ago goes next, and a newcomer pushes out the newest wait
 * of the address holding the most. Past it, BUSY (retry shortly). Each connection has at most one
 * check, so one address holds at most UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX of them. 2048
 * waits are under a minute of work on 2 cores and a few hundred KiB of memory (each holds a
 * password): enough that the clients of a restarted server, all logging in again at once, mostly
 * wait their turn rather than bounce; a longer wait helps nobody.
 */
export const PASSWORD_CHECKS_WAITING_MAX = 2048;
/** Login and sign-up attempts (token bucket) per remote address: burst, then refill per second. */
export const AUTH_ATTEMPTS_PER_ADDRESS_BURST = 30;
export const AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC = 10;
/**
 * Sign-ups per address key (token bucket over a long window): a burst for a household or an
 * office behind one address, then about one per ten minutes (what the reference servers
 * allow), so one address cannot mint accounts as fast as scrypt allows (sybils, squatting
 * usernames). `--signups-per-address-per-hour` changes the rate; 0 lifts it.
 */
export const SIGNUPS_PER_ADDRESS_BURST = 3;
export const SIGNUPS_PER_ADDRESS_PER_HOUR = 6;
/**
 * Connections one address key may hold: 500 is 2.5% of CONNECTIONS_MAX, so it takes 40 hosts, not
 * one, to fill the server, while an office behind one NAT address still fits.
 * `--connections-per-address`; 0 lifts it.
 */
export const CONNECTIONS_PER_ADDRESS_MAX = 500;
/**
 * Connections not logged in that one address key may hold: a client needs one, for a moment, to
 * log in; each may otherwise sit for UNAUTHENTICATED_IDLE_MS doing nothing, so they are capped much
 * tighter than logged-in ones. `--unauth-connections-per-address`; 0 lifts it.
 */
export const UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX = 32;
/** Chat-session requests (token bucket) per user. */
export const SESSION_REQUESTS_PER_USER_BURST = 10;
export const SESSION_REQUESTS_PER_USER_PER_SEC = 1;
/**
 * Nickname changes (token bucket) per user: each one is a durable write and a friend.updated to
 * every online friend (up to FRIENDS_PER_USER_MAX), so one user cannot turn renaming into a flood.
 */
export const NICKNAME_CHANGES_PER_USER_BURST = 5;
export const NICKNAME_CHANGES_PER_USER_PER_HOUR = 30;
/**
 * Friend requests (token bucket) per user. Each is a durable write (synchronous=FULL: an fsync on
 * the server's event loop) and a friend.request pushed to someone who may be a stranger; asking
 * and withdrawing (friend.remove) in a loop was unbounded: one account pushed 1,800 friend.request
 * events a second at its target and held every other user's requests up by 1.3 to 3.9 s (from
 * 1 ms). Twenty at once (a new user asking their contacts), then one a minute.
 */
export const FRIEND_REQUESTS_PER_USER_BURST = 20;
export const FRIEND_REQUESTS_PER_USER_PER_HOUR = 60;
/**
 * Blocks and unblocks that change something (token bucket) per user: each is a durable write, and
 * blocking and unblocking in a loop held every other user's requests up by 0.5 to 2.3 s. The burst
 * is a full incoming quota (FRIEND_REQUESTS_INCOMING_PER_USER_MAX), so a user can block every
 * sybil asking them at once; then one a minute.
 */
export const BLOCK_CHANGES_PER_USER_BURST = FRIEND_REQUESTS_INCOMING_PER_USER_MAX;
export const BLOCK_CHANGES_PER_USER_PER_HOUR = 60;
/**
 * Offline messages (mail.send that the server stores) per user, token bucket. Each is a durable
 * write, and its acknowledgement another: a sender whose friend acknowledges at once (an
 * auto-answering client, or a second account of its own) looped 1,100 a second and held every
 * other user's requests up by 30 to 250 ms. The burst is two full shares of one friend's mailbox
 * (MAILBOX_MESSAGES_PER_SENDER_MAX): a pasted block of lines to an offline friend goes at once,
 * and once the friend took it the sender may write again at once, not a token a second; then one
 * a second, faster than anyone types. Resends of a message already held, and mail a block
 * swallows, store nothing and take no token.
 */
export const MAIL_SENDS_PER_USER_BURST = 2 * MAILBOX_MESSAGES_PER_SENDER_MAX;
export const MAIL_SENDS_PER_USER_PER_SEC = 1;
/**
 * Friend lists (friends.list) per user, token bucket. A list is the whole friend list with every
 * friend's keys, up to LIST_FRAME_BYTES_WORST of JSON: at 1,000 friends about 1.6 ms of the
 * server's event loop each, and one user asking in a loop (600 lists a second) held every other
 * user's requests up (a bystander's heartbeat from 1 ms to 26 ms, at worst 109 ms). Presence and
 * friend changes are pushed, and login.ok carries the list, so a client needs one only when its
 * user asks: ten at once, then one a second.
 */
export const FRIENDS_LISTS_PER_USER_BURST = 10;
export const FRIENDS_LISTS_PER_USER_PER_SEC = 1;
/**
 * Resumes per user, token bucket counted in friend-list entries: a resume costs one plus its
 * user's friends, for its login.ok carries the whole list (the takeover itself is a few map
 * updates; the new connection's TLS handshake is bounded per address apart). Resumes stay free of
 * any per-address or password limit, so a server restart (every client resuming once, a few
 * times on a flapping link) is never refused; but one user with 1,000 friends resuming in a loop
 * on fresh connections (64 to 118 a second) held a bystander's heartbeat up from 1 ms to 2 to 7 ms
 * (p50; at worst 16 to 142 ms). The burst is ten resumes at the largest friend list, then one
 * such resume a second: a user with 10 friends may resume 91 times a second, so the bench's
 * resume loop (128 users with no friends, about 7 a second each) never meets it. Past it
 * RATE_LIMITED, which a client retries after its reconnect backoff with its token kept
 * (core/peer/server-link.ts): a link flapping faster than that is slowed, never locked out.
 */
export const RESUME_LIST_ENTRIES_PER_USER_BURST = 10 * (FRIENDS_PER_USER_MAX + 1);
export const RESUME_LIST_ENTRIES_PER_USER_PER_SEC = FRIENDS_PER_USER_MAX + 1;
/** Rate-limit buckets kept at once; the oldest idle ones are dropped first. */
export const RATE_LIMIT_BUCKETS_MAX = 100_000;

/** Bytes the runtime may queue for one slow reader before it closes that connection. */
export const SEND_QUEUE_BYTES_MAX = 8 * 1024 * 1024;
/** Connections one server process accepts (the machine's file-descriptor limit is 20,000). */
export const CONNECTIONS_MAX = 19_900;

// ---- peers: the client's server link, the P2P channel and file transfers ----------------------

/** Reconnect backoff towards the server: first delay and cap; jitter scales each delay to 50-100%. */
export const RECONNECT_DELAY_MS_MIN = 250;
export const RECONNECT_DELAY_MS_MAX = 5_000;
/**
 * A user's login whose answer was lost with its link (the server closed an idle connection just as
 * it went out, or the link dropped) is sent again on the next link, each after the reconnect
 * backoff, at most this many times: a server that loses every link answers the user
 * SERVER_UNAVAILABLE within seconds instead of keeping the command waiting.
 */
export const LOGIN_RESENDS_MAX = 3;
/**
 * A connect that is refused or fails before the link opens is no lost link for such a login (it
 * never reached the server): the login stays owed while the server cannot be reached, for at most
 * this long after the link it was lost with, then it is answered SERVER_UNAVAILABLE. A server
 * restart of a second or two (connects refused meanwhile) is waited out; counted as lost links,
 * three refused connects in the first backoff steps (about 0.4 to 1.75 s) failed the login. A
 * server that stays away answers the user within this plus one reconnect delay.
 */
export const LOGIN_UNREACHED_WAIT_MS = 10_000;
/**
 * A user's login refused with SERVER_DEGRADED (a cluster node that lost its database or bus) is
 * sent again on a new link after the growing reconnect backoff at most this many times, then the
 * refusal is its answer: 6 tries wait about 6-13 s in all (250 ms doubling, capped at 5 s, with
 * jitter), long enough for a node to get its bus (NATS reconnects every 250 ms) or database (checked
 * every second) back after a blip, or for a load balancer to take it out of rotation.
 */
export const LOGIN_DEGRADED_RETRIES_MAX = 6;
/**
 * A chat-session request the server has not acknowledged (session.pending) by then is given up:
 * the server answers at once, so only a broken link is that slow, and the link's own TTL check
 * usually ends the request first.
 */
export const SESSION_ACK_WAIT_MS = 30_000;
/**
 * After a session request's own timeout (from session.pending or session.incoming), how long its
 * outcome may still take to arrive before the client ends the request itself (reason timeout):
 * an outcome lost with a dropped link would otherwise leave it pending for ever.
 */
export const SESSION_OUTCOME_GRACE_MS = 5_000;
/** A callee keeps a session token this long; an accepted P2P stream must say hello within it. */
export const P2P_HELLO_TIMEOUT_MS = 10_000;
/**
 * A callee remembers a token that expired unused this long after it expired, so a caller whose
 * session.established was held up (a partition, a clogged link) and who says hello too late is
 * told SESSION_TOKEN_EXPIRED, not BAD_SESSION_TOKEN, the answer a guesser or a replay gets. Twice
 * the default TTL: a frame held up longer than the TTL is lost with its link (the client's
 * silent-link reset), so later hellos need no telling apart (under a server configured with a
 * longer TTL, a hello later still is told BAD_SESSION_TOKEN). One token per friend at most.
 */
export const P2P_TOKEN_EXPIRED_KEPT_MS = 2 * TTL_MS_DEFAULT;
/**
 * Largest frame an accepted P2P stream may send before its hello is accepted (then FRAME_BYTES_MAX).
 * A hello is under 2 KiB even with every character escaped; before, a stranger's first frame could
 * be 512 KiB, parsed as JSON before it was refused (milliseconds each, several TLS handshakes'
 * worth), on a new connection each time, from anyone who can reach the port. FRAME_TOO_LARGE past it.
 */
export const P2P_HELLO_FRAME_BYTES_MAX = 4 * 1024;
/** Accepted P2P streams not yet authenticated, at once: a port scanner cannot hold more. */
export const P2P_UNAUTHENTICATED_STREAMS_MAX = 32;
/** Chat messages sent to one peer and not yet acknowledged. */
export const CHAT_UNACKED_MESSAGES_MAX = 256;
/**
 * At most one typing indicator per friend per this interval, each way: the sender drops the rest,
 * the receiver ignores frames that come faster (a friend cannot flood our user with them).
 */
export const CHAT_TYPING_INTERVAL_MS = 3_000;
/**
 * Friends without an open session for whom a chat remembers a read receipt still owed (sent when
 * the next session opens); the oldest is forgotten first. Bounds what chat.read can make us hold.
 */
export const CHATS_WITHOUT_SESSION_MAX = 1_024;
/** Messages and file events the client keeps per account and friend; the oldest are pruned first. */
export const HISTORY_MESSAGES_PER_FRIEND_MAX = 10_000;
/**
 * Bytes of text (UTF-8) the client keeps per account and friend; the oldest records are pruned
 * first, as for the count. The count alone let one friend fill our history with 10,000 messages of
 * 16 KiB (160 MB, written in 4 s), and every history.search then walked all of it on the client's
 * event loop: 0.5 to 0.8 s per search per such friend, with every session and heartbeat held up
 * meanwhile. 2 MiB is 10,000 messages of 200 bytes, longer than typed messages run, so an ordinary
 * chat keeps its 10,000; a friend sending the largest messages keeps 128 of them, and a search walks
 * at most this much of each friend's history (about 10 ms).
 */
export const HISTORY_BYTES_PER_FRIEND_MAX = 2 * 1024 * 1024;
/** Messages one `history` command returns when it names no limit, and at most. */
export const HISTORY_PAGE_MESSAGES_DEFAULT = 50;
export const HISTORY_PAGE_MESSAGES_MAX = 500;
/** Matches one `history.search` returns, newest first. */
export const HISTORY_SEARCH_RESULTS_MAX = 100;
/** Longest text `history.search` looks for. */
export const HISTORY_SEARCH_CHARS_MAX = 256;
/** History queries handed to the store and not yet answered. */
export const HISTORY_QUERIES_PENDING_MAX = 64;
/** Requests to the server awaiting their reply. */
export const SERVER_REQUESTS_PENDING_MAX = 256;
/** Files one offer may list. */
export const FILES_PER_OFFER_MAX = 32;
/** Unfinished transfers (both directions) one client holds at once. */
export const TRANSFERS_ACTIVE_MAX = 64;
/**
 * Unfinished incoming transfers one friend may hold at a client: half its slots. One full offer
 * (FILES_PER_OFFER_MAX) still fits, and however many offers one friend sends, the other half stays
 * for the other friends and for our own sends.
 */
export const TRANSFERS_IN_PER_PEER_MAX = TRANSFERS_ACTIVE_MAX / 2;
/**
 * A transfer that is accepted or sending fails (reason stalled) after this long without moving a
 * byte or a credit, and the receiver's temporary file is removed: a friend that accepts or offers
 * and then never moves cannot keep a slot for longer. Far above a legitimate pause (credit comes
 * back as soon as a quarter of the window is on disk; the final fsync takes seconds).
 */
export const TRANSFER_STALL_MS = 60_000;
/**
 * An offer nobody has answered fails (reason stalled) after this long. Longer than TRANSFER_STALL_MS
 * because a person answers it; bounded so unanswered offers do not keep slots for ever.
 */
export const TRANSFER_ANSWER_WAIT_MS = 10 * 60_000;
/** Bytes a sender may have in flight beyond what the receiver has written: the credit window. */
export const TRANSFER_WINDOW_BYTES = 4 * 1024 * 1024;
/**
 * File bytes one sending transfer may have in reads at once. The reads run in the thread pool,
 * which answers a millisecond or more late on a busy machine: with one 512 KiB read in flight the
 * sender spent most of a transfer waiting for its disk; two 1 MiB blocks side by side keep the
 * socket fed meanwhile.
 */
export const TRANSFER_READ_AHEAD_BYTES = 2 * 1024 * 1024;
/** File reads one sending transfer may have outstanding: its read-ahead in chunks. */
export const TRANSFER_READS_IN_FLIGHT_MAX = TRANSFER_READ_AHEAD_BYTES / FILE_CHUNK_BYTES;
/** At most one file.progress event per transfer per this interval. */
export const TRANSFER_PROGRESS_INTERVAL_MS = 250;
/** Default largest file a client accepts (configurable per client). */
export const FILE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024 * 1024;
/** Longest received file name kept, in UTF-16 code units (the extension is kept). */
export const FILE_NAME_CHARS_MAX = 200;
/** "name (n).ext" candidates tried before a received file is refused rather than overwrite. */
export const FILE_NAME_CANDIDATES_MAX = 1000;
/** A quitting client waits this long for logout.ok before it exits anyway. */
export const QUIT_LOGOUT_WAIT_MS = 2_000;
/** Finished incoming transfers whose outcome is re-sent to the sender on the next session (it may have missed it). */
export const TRANSFER_OUTCOMES_REMEMBERED_MAX = 256;
/**
 * File bytes one P2P stream may hold on the sending side: data frames queued in its socket plus
 * chunk reads issued for it. The sender starts no read past it, so a slow reader costs at most this
 * much memory per stream, whatever the number and size of the files. Twice a transfer's read-ahead
 * (TRANSFER_READ_AHEAD_BYTES), so a full read-ahead still leaves room for frames being written.
 */
export const P2P_SEND_QUEUE_BYTES_MAX = 2 * TRANSFER_READ_AHEAD_BYTES;
/** A transfer suspended by a dropped connection fails (reason resume-timeout) if not resumed by then. */
export const TRANSFER_RESUME_WAIT_MS = 5 * 60_000;
