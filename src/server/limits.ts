/**
 * Listen backlog of the entry server and the TCP nodes. Node's default is 511; thousands of bots
 * connecting at once (or migrating to one target at once) overflow it, and every SYN the kernel
 * drops costs that client a 1 s retransmission. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;
