/*
 * The RUDP client of the UDP floors (PROTOCOL sections 1, 2, 4), shared by the C floor
 * (udp_echo_floor.c, blocking I/O) and the Node floors (bench/node-floor/udp_node_floor.c, a
 * uv_poll_t on Node's loop): the handshake, requests packed into DATs, ACK/RACK records of a
 * batch in one datagram, ACKs of our DATs, every answer checked, FIN at the end. A gap in the
 * server's sequence, a timeout or a server FIN/terminate ends the process with exit code 1.
 *
 * floor_packet (NULL in the C floor): the Node floor's mode without crypto. Every request is
 * then that prepared packet (sealed once by the caller: with the session's fixed IV every echo
 * request is the same bytes) and every answer is compared byte for byte with floor_answer (the
 * server's sealed echo of it), with no OpenSSL call per message.
 *
 * Header-only, static state: one connection per process. Define _GNU_SOURCE before any include.
 */
#pragma once
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor_common.h"

enum { kBody = 64, kHdr = 4, kMaxBody = 1400, kAckRec = kHdr + kSid, kBatch = 64, kOut = 64 };
enum { F_UDP = 1, F_SYN, F_DAT, F_ACK, F_RDAT, F_RACK, F_FIN };
enum { kWindow = 1024 };  /* the server's receive span (PROTOCOL 4): seq - oldest unacknowledged < this */
enum { kRequest = kReqHeader + kSid + 4 + kMac + kBody + 16 };  /* one sealed 64-byte echo request */
#define SEQ_MASK 0xFFFFFFu

static int fd, use_mmsg = 1;

/* Received datagrams of one batch. */
static unsigned char rbuf[kBatch][2048];
static struct iovec riov[kBatch];
static struct mmsghdr rmsg[kBatch];

/* Datagrams to send at the end of the batch. */
static unsigned char sbuf[kOut][kHdr + kMaxBody];
static struct iovec siov[kOut];
static struct mmsghdr smsg[kOut];
static int nout;

/* Our DATs: next sequence, oldest unacknowledged, which in-flight ones are acknowledged. */
static uint32_t sendNext, sendOldest;
static unsigned char acked[kWindow];
/* The server's DATs: next expected sequence; ACK/RACK records owed (seq | flag << 24). */
static uint32_t recvNext;
static uint32_t recs[4 * kBatch];
static int nrecs;

/* Echo bookkeeping over the whole program: request i carries i in its first 8 bytes. */
static uint64_t issued, answered, owed;
static uint64_t dgramsSent, dgramsRecv;
static int finSent, finAcked;
/* The mode without crypto (see the top): the request and its answer, sealed by the caller. */
static const unsigned char *floor_packet, *floor_answer;
static size_t floor_answer_len;  /* the request is kRequest bytes */

/* The receive and send arrays' iovecs: once, before any I/O. */
static void floor_udp_init(void) {
  for (int i = 0; i < kBatch; i++) {
    riov[i] = (struct iovec){rbuf[i], sizeof rbuf[i]};
    rmsg[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
  }
  for (int i = 0; i < kOut; i++) {
    siov[i] = (struct iovec){sbuf[i], 0};
    smsg[i].msg_hdr = (struct msghdr){.msg_iov = &siov[i], .msg_iovlen = 1};
  }
}

static uint32_t seq_diff(uint32_t a, uint32_t b) { return (a - b) & SEQ_MASK; }

static void header(unsigned char *p, uint32_t seq, uint8_t flag) {
  p[0] = (unsigned char)seq;
  p[1] = (unsigned char)(seq >> 8);
  p[2] = (unsigned char)(seq >> 16);
  p[3] = flag;
}

static void body_of(uint64_t i, unsigned char out[kBody]) {
  memset(out, 7, kBody);
  memcpy(out, &i, sizeof i);
}

static void send_now(void) {
  if (nout == 0) return;
  if (use_mmsg) {
    int done = 0;
    while (done < nout) {
      const int n = sendmmsg(fd, smsg + done, (unsigned)(nout - done), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die("sendmmsg");
      done += n;
    }
  } else {
    for (int i = 0; i < nout; i++) {
      if (send(fd, sbuf[i], siov[i].iov_len, 0) != (ssize_t)siov[i].iov_len) die("send");
    }
  }
  dgramsSent += (uint64_t)nout;
  nout = 0;
}

static unsigned char *slot(void) {
  if (nout == kOut) send_now();
  return sbuf[nout];
}

/* Request number `issued` (then counted) at out: sealed here, or the prepared packet. */
static size_t next_request(unsigned char *out) {
  if (floor_packet != NULL) {
    memcpy(out, floor_packet, kRequest);
    issued++;
    return kRequest;
  }
  unsigned char body[kBody];
  body_of(issued++, body);
  return encode(out, 2, 1, body, kBody);
}

/* The batch's output: ACK records (70 to a datagram), then the owed requests packed into DATs. */
static void flush(void) {
  for (int i = 0; i < nrecs;) {
    unsigned char *d = slot();
    size_t o = 0;
    for (; i < nrecs && o + kAckRec <= kMaxBody; i++, o += kAckRec) {
      header(d + o, recs[i] & SEQ_MASK, (uint8_t)(recs[i] >> 24));
      memcpy(d + o + kHdr, sid, kSid);
    }
    siov[nout++].iov_len = o;
  }
  nrecs = 0;
  while (owed > 0 && seq_diff(sendNext, sendOldest) < kWindow) {
    unsigned char *d = slot();
    size_t o = kHdr;
    for (int k = 0; owed > 0 && k < kMaxBody / kRequest; k++) {  /* 9 to a DAT, as the native client packs */
      o += next_request(d + o);
      owed--;
    }
    header(d, sendNext, F_DAT);
    acked[sendNext % kWindow] = 0;
    sendNext = (sendNext + 1) & SEQ_MASK;
    siov[nout++].iov_len = o;
  }
  send_now();
}

static void queue_record(uint32_t seq, uint8_t flag) {
  if (nrecs == (int)(sizeof recs / sizeof recs[0])) flush();
  recs[nrecs++] = seq | (uint32_t)flag << 24;
}

/* One DAT body: response packets back to back; every echo answer checked against its request. */
static void deliver(const unsigned char *p, size_t n) {
  static unsigned char plain[2048];
  unsigned char want[kBody];
  while (n > 0) {
    if (n < kResHeader || memcmp(p, "\xFE\xBE\xDE\xEF", 4) != 0) die("bad packet in DAT");
    const size_t len = ((size_t)p[5] << 16) | ((size_t)p[6] << 8) | p[7];
    if (n < kResHeader + len) die("truncated packet in DAT");
    if (floor_answer != NULL && kResHeader + len == floor_answer_len && memcmp(p, floor_answer, floor_answer_len) == 0) {
      if (answered == issued) die("an answer with no request outstanding");
      answered++;
      owed++;
      p += kResHeader + len;
      n -= kResHeader + len;
      continue;
    }
    if (floor_answer != NULL && p[4] == 2 && p[8] == 0 && p[9] == 1) die("echo answer differs from its request");
    const unsigned ver = p[4], cmd = ((unsigned)p[8] << 8) | p[9], status = p[10];
    const size_t plen = open_secure(p + kResHeader, len, plain);
    if (status == 0xFF) {
      if (ver == 0 && cmd == 0) die("the server sent Fin");
    } else if (ver == 2 && cmd == 1 && status == 1) {
      if (answered == issued) die("an answer with no request outstanding");
      body_of(answered, want);
      if (plen != kBody || memcmp(plain, want, kBody) != 0) die("echo answer differs from its request");
      answered++;
      owed++;
    } else {
      fprintf(stderr, "ver %u cmd %u status %u\n", ver, cmd, status);
      die("unexpected answer");
    }
    p += kResHeader + len;
    n -= kResHeader + len;
  }
}

static void on_ack(uint32_t seq) {
  const uint32_t d = seq_diff(seq, sendOldest);
  if (d >= seq_diff(sendNext, sendOldest)) return;  /* already cleared: the server repeats recent records */
  acked[seq % kWindow] = 1;
  while (sendOldest != sendNext && acked[sendOldest % kWindow]) sendOldest = (sendOldest + 1) & SEQ_MASK;
}

static void on_datagram(const unsigned char *d, size_t n) {
  dgramsRecv++;
  if (n == 4 && memcmp(d, "\x0D\x0E\x0A\x0D", 4) == 0) die("the server terminated the connection");
  if (n < kHdr) die("short datagram");
  const uint32_t seq = d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16;
  switch (d[3]) {
    case F_DAT:
    case F_RDAT: {
      const int rdat = d[3] == F_RDAT;
      const uint32_t ahead = seq_diff(seq, recvNext);
      if (ahead != 0 && ahead < (1u << 23)) {
        fprintf(stderr, "DAT %u while %u expected\n", seq, recvNext);
        die("a server DAT was lost (no retransmission in the floor)");
      }
      queue_record(seq, rdat ? F_RACK : F_ACK);  /* duplicates are acknowledged too */
      if (ahead == 0) {
        recvNext = (recvNext + 1) & SEQ_MASK;
        deliver(d + kHdr, n - kHdr);
      }
      return;
    }
    case F_ACK:
    case F_RACK:
      if (n % kHdr != 0) die("bad ACK datagram");
      for (size_t o = 0; o < n; o += kHdr) {
        if (d[o + 3] != F_ACK && d[o + 3] != F_RACK) die("bad ACK record");
        const uint32_t s = d[o] | (uint32_t)d[o + 1] << 8 | (uint32_t)d[o + 2] << 16;
        if (finSent && n == kHdr && s == 0 && d[3] == F_ACK) finAcked = 1;  /* the FIN's answer */
        on_ack(s);
      }
      return;
    case F_SYN:
      return;  /* a late answer to a repeated SYN */
    case F_FIN:
      die("the server sent FIN");
    default:
      die("unexpected datagram");
  }
}

/* Blocks for at least one datagram (or the socket's timeout), takes what else is there. */
static void receive(void) {
  int n = 0;
  if (use_mmsg) {
    n = recvmmsg(fd, rmsg, kBatch, MSG_WAITFORONE, NULL);
    if (n < 0) die(errno == EAGAIN ? "timeout: no answer for 5 s (loss?)" : "recvmmsg");
    for (int i = 0; i < n; i++) on_datagram(rbuf[i], rmsg[i].msg_len);
    return;
  }
  for (int flags = 0; n < kBatch; n++, flags = MSG_DONTWAIT) {
    const ssize_t r = recv(fd, rbuf[n], sizeof rbuf[n], flags);
    if (r < 0 && flags == 0) die(errno == EAGAIN ? "timeout: no answer for 5 s (loss?)" : "recv");
    if (r < 0) break;
    on_datagram(rbuf[n], (size_t)r);
  }
}

static void set_timeout(long ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* SYN seq 0 + SID until the server's SYN S (every 200 ms, 5 s in all), then ACK S + SID. */
static void handshake(void) {
  unsigned char syn[kHdr + kSid], d[2048];
  header(syn, 0, F_SYN);
  memcpy(syn + kHdr, sid, kSid);
  set_timeout(200);
  for (int tries = 0;; tries++) {
    if (tries == 25) die("no SYN answer in 5 s");
    if (send(fd, syn, sizeof syn, 0) != (ssize_t)sizeof syn) die("send SYN");
    const ssize_t r = recv(fd, d, sizeof d, 0);
    if (r >= kHdr && d[3] == F_SYN) {
      recvNext = d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16;
      break;
    }
  }
  header(syn, recvNext, F_ACK);
  if (send(fd, syn, sizeof syn, 0) != (ssize_t)sizeof syn) die("send ACK");
  set_timeout(5000);
}

/* Acknowledge what came last, wait until every DAT of ours is acknowledged, FIN until ACK 0. */
static void finish(void) {
  flush();
  while (sendOldest != sendNext) {
    receive();
    flush();
  }
  unsigned char fin[kHdr + kSid];
  header(fin, 0, F_FIN);
  memcpy(fin + kHdr, sid, kSid);
  if (send(fd, fin, sizeof fin, 0) != (ssize_t)sizeof fin) die("send FIN");
  finSent = 1;
  while (!finAcked) receive();
}

static void connect_to(const char *host, int port) {
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t alen;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    alen = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    alen = sizeof *a6;
  } else {
    die("host must be a numeric IPv4 or IPv6 address");
  }
  fd = socket(a.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, alen) != 0) die("connect");
}

