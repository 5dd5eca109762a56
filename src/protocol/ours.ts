/**
 * Every "(ours)" choice of PROTOCOL.md that the TypeScript side uses, in one place, so that each can
 * change if the public record becomes clearer. Wire facts that are publicly documented live in
 * constants.ts.
 */

/** Section 1: a receiver enforces a maximum payload; larger lengths are a protocol error. */
export const DEFAULT_MAX_PAYLOAD = 1 << 20;

/** Section 3: the TCP stream carries command packets back to back, reassembled by length. */
export const TCP_STREAM_FRAMING = 'length-prefixed-back-to-back' as const;

/**
 * Section 3: the first request on a TCP connection is the heartbeat (ver 0 cmd 1) or, at a migration
 * target, the claim (ver 0 cmd 2). Anything else is refused with a Fin push.
 */
export const FIRST_REQUEST_CMDS: readonly number[] = [1, 2];

/** Section 3: heartbeat body is a float64 little-endian timestamp in milliseconds. */
export const HEARTBEAT_TS_LITTLE_ENDIAN = true;

/** Section 4 (keepalive): missing answers for this many intervals means `timeout`. */
export const HEARTBEAT_MISS_LIMIT = 3;

/** Section 5: Fin push (ver 0 cmd 0, status 0xFF) body = UTF-8 reason before the server closes. */
export const FIN_REASONS = ['server-shutdown', 'refused', 'timeout', 'kicked'] as const;
export type FinReason = (typeof FIN_REASONS)[number];

/** Section 7.1: the offline notice is a KeepAlive push with state 2 and timestamp 0. */
export const OFFLINE_NOTICE_TS = 0;

/** Section 7.3: a pending (handed-off) session waits this long for its claim. */
export const DEFAULT_HANDOFF_TTL_MS = 30_000;

/** Section 7.3: migration tickets are 16 random bytes. */
export const TICKET_SIZE = 16;

/** Section 7.4: error code in the body (uint16) of a failed migration answer (status 5). */
export const MIGRATE_NO_TARGET_CODE = 1003;

/** Section 8: HTTP answers of the endpoint API for errors. */
export const ENDPOINT_HTTP = { badRequest: 400, unauthorized: 401, noNode: 503 } as const;

/** Section 4: RUDP receive window of out-of-order packets and send window of unacked DATs. */
export const RUDP_RECEIVE_WINDOW = 1024;
export const RUDP_SEND_WINDOW = 256;
/** Section 4: adaptive retransmission floor. */
export const RUDP_RTO_MIN_MS = 100;
/**
 * Section 4: the longest a peer of ours holds an ACK record back, which a sender's tail-loss probe
 * allows for on top of two smoothed RTTs (QUIC's max_ack_delay): the client's loop driver paces its
 * ACK datagrams at one per 8 ms (bindings/node/udp_client_wrap.cc kLoopAckDelayMs), its thread
 * driver at 2 ms, our node at 4 ms (udp.ackDelayMs). The stock server resends after 1000 ms.
 */
export const RUDP_PEER_MAX_ACK_DELAY_MS = 9;
/** Section 4 (fragments): receivers accept datagrams with up to this many bytes of body. */
export const UDP_MAX_DATAGRAM_BODY = 1400;

/**
 * Server side, not on the wire: a session registered by the endpoint API that never connects is
 * forgotten after this long, and pushes held for it meanwhile are bounded.
 */
export const PENDING_SESSION_TTL_MS = 60_000;
export const PENDING_PUSH_LIMIT = 1024;

/** Server side: answer status for a request to an unknown command (still an answer, keeps FIFO). */
export const UNKNOWN_COMMAND_STATUS = 4;
