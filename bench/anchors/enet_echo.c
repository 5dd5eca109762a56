/* ENet echo pair for bench/udp-loss (the anchor beside the project, through the same proxy).
 *   enet_echo server <port>                     echoes every packet back, reliably, until killed
 *   enet_echo client <host> <port> <count> <size>
 * The client connects, sends <count> reliable packets of <size> bytes at once (index u32 and
 * send time f64 inside), waits for every echo (bounded: 120 s) and prints one JSON line:
 * total time, latency percentiles, missing / duplicated / out-of-order echoes. ENet defaults. */
#include <enet/enet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static int server(int port) {
  ENetAddress addr;
  addr.host = ENET_HOST_ANY;
  addr.port = (enet_uint16)port;
  ENetHost* host = enet_host_create(&addr, 32, 1, 0, 0);
  if (!host) return fprintf(stderr, "enet_host_create failed\n"), 1;
  printf("{\"listening\":%d}\n", port);
  fflush(stdout);
  for (;;) {
    ENetEvent ev;
    while (enet_host_service(host, &ev, 100) > 0) {
      if (ev.type == ENET_EVENT_TYPE_RECEIVE) {
        ENetPacket* p = enet_packet_create(ev.packet->data, ev.packet->dataLength, ENET_PACKET_FLAG_RELIABLE);
        enet_peer_send(ev.peer, ev.channelID, p);
        enet_packet_destroy(ev.packet);
      }
    }
  }
}

static int client(const char* hostname, int port, int count, int size) {
  ENetHost* host = enet_host_create(NULL, 1, 1, 0, 0);
  ENetAddress addr;
  enet_address_set_host(&addr, hostname);
  addr.port = (enet_uint16)port;
  ENetPeer* peer = enet_host_connect(host, &addr, 1, 0);
  ENetEvent ev;
  if (enet_host_service(host, &ev, 30000) <= 0 || ev.type != ENET_EVENT_TYPE_CONNECT) {
    printf("{\"error\":\"no connection\"}\n");
    return 1;
  }
  double* lat = calloc((size_t)count, sizeof(double));
  char* seen = calloc((size_t)count, 1);
  unsigned char* buf = calloc((size_t)size, 1);
  int got = 0, dup = 0, ooo = 0, last = -1;
  const double start = now_ms();
  for (int i = 0; i < count; ++i) {
    const double t = now_ms();
    memcpy(buf, &i, 4);
    memcpy(buf + 4, &t, 8);
    enet_peer_send(peer, 0, enet_packet_create(buf, (size_t)size, ENET_PACKET_FLAG_RELIABLE));
  }
  enet_host_flush(host);
  double end = start;
  while (got < count && now_ms() - start < 120000) {
    if (enet_host_service(host, &ev, 5) <= 0) continue;
    if (ev.type != ENET_EVENT_TYPE_RECEIVE) continue;
    int i;
    double t;
    memcpy(&i, ev.packet->data, 4);
    memcpy(&t, ev.packet->data + 4, 8);
    enet_packet_destroy(ev.packet);
    end = now_ms();
    if (i < 0 || i >= count) continue;
    if (seen[i]) { ++dup; continue; }
    if (i < last) ++ooo;
    last = i;
    seen[i] = 1;
    lat[got++] = end - t;
  }
  qsort(lat, (size_t)got, sizeof(double), cmp_double);
  const double p50 = got ? lat[(got - 1) / 2] : 0, p99 = got ? lat[(int)((got - 1) * 0.99)] : 0;
  printf("{\"totalMs\":%.1f,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"received\":%d,\"missing\":%d,\"dup\":%d,\"ooo\":%d}\n",
         end - start, p50, p99, got ? lat[got - 1] : 0, got, count - got, dup, ooo);
  enet_peer_disconnect_now(peer, 0);
  enet_host_flush(host);
  enet_host_destroy(host);
  return 0;
}

int main(int argc, char** argv) {
  if (enet_initialize() != 0) return 1;
  if (argc == 3 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]));
  if (argc == 6 && strcmp(argv[1], "client") == 0) {
    return client(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  }
  fprintf(stderr, "usage: enet_echo server <port> | client <host> <port> <count> <size>\n");
  return 2;
}
