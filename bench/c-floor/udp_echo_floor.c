/*
 * The C floor of bench/udp's CPU table: a one-thread Diarkis RUDP client in plain C with
 * OpenSSL (PROTOCOL sections 1, 2, 4), as lean as the protocol allows: one connected UDP
 * socket, blocking I/O, the handshake (SYN 0 + SID, the server's SYN S, ACK S + SID), 64-byte
 * encrypted echo requests (2/1) packed back to back into DATs of up to 1400 bytes of body as the
 * native client packs them, the ACK/RACK records of a batch (20 bytes each: header || SID) in one
 * datagram, the server's first message taken as DAT S and RDAT S (RACK S clears it), every
 * answer MAC-checked, decrypted and compared with the bytes sent (first in, first out), cipher
 * and MAC contexts reused. No retransmission: a gap in the server's sequence, a timeout or a
 * server FIN/terminate ends the program with exit code 1 instead of a hang.
 *
 *   udp_echo_floor <host> <port> <sid> <key> <iv> <macKey> <depth> <messages> <warmup> [mmsg|plain]
 *
 * io mmsg (default, Linux; the native client's own calls): one recvmmsg(MSG_WAITFORONE) takes
 * what the socket holds, one sendmmsg sends a batch's ACK datagram and DATs. plain: recv, then
 * recv(MSG_DONTWAIT) until empty, one send per datagram. Prints its CPU per message as JSON.
 */
#define _GNU_SOURCE
#include "udp_floor_rudp.h"

/* `messages` more echoes with `depth` in flight; each answer releases the next request. */
static void run(int depth, uint64_t messages) {
  const uint64_t target = answered + messages;
  owed = (uint64_t)depth < messages ? (uint64_t)depth : messages;
  while (answered < target) {
    if (owed > target - issued) owed = target - issued;
    flush();
    receive();
  }
  if (owed > target - issued) owed = target - issued;
}

int main(int argc, char **argv) {
  floor_name = "udp_echo_floor";
  if (argc != 10 && argc != 11) die("usage: udp_echo_floor host port sid key iv macKey depth messages warmup [mmsg|plain]");
  floor_keys(argv + 3);
  const int depth = atoi(argv[7]);
  const long messages = atol(argv[8]), warmup = atol(argv[9]);
  if (depth < 1 || depth > 256 || messages < 1 || warmup < 0) die("depth 1..256, messages >= 1, warmup >= 0");
  if (argc == 11 && strcmp(argv[10], "plain") == 0) use_mmsg = 0;
  else if (argc == 11 && strcmp(argv[10], "mmsg") != 0) die("io is mmsg or plain");
  floor_udp_init();
  connect_to(argv[1], atoi(argv[2]));
  handshake();

  if (warmup > 0) run(depth, (uint64_t)warmup);
  const uint64_t s0 = dgramsSent, r0 = dgramsRecv;
  const double c0 = cpu_us(), t0 = wall_s();
  run(depth, (uint64_t)messages);
  const double cpu = cpu_us() - c0, secs = wall_s() - t0;
  const double sent = (double)(dgramsSent - s0), recvd = (double)(dgramsRecv - r0);
  finish();
  printf("{\"messages\":%ld,\"seconds\":%.6f,\"cpuUs\":%.4f,\"sentPerMessage\":%.4f,\"receivedPerMessage\":%.4f,\"io\":\"%s\"}\n",
         messages, secs, cpu / (double)messages, sent / (double)messages, recvd / (double)messages, use_mmsg ? "mmsg" : "plain");
  close(fd);
  return 0;
}
