/*
 * burst-sender IFACE FILE COUNT PPS: sends the first COUNT frames of FILE (a little-endian
 * pcap of Ethernet frames) on IFACE at PPS, paced against the monotonic clock, and prints
 * what it did as a last JSON line: {"sent":N,"seconds":S,"pps":R,"retries":E}.
 *
 * For the bench's burst rows (test/bench/run.ts): tcpreplay sends one frame per system call
 * and reaches 150-240k pkt/s on this kind of VM, short of the 300k pkt/s burst the target
 * names. This sender loads the frames first (and says so: {"loaded":N}), then hands them to the kernel in batches
 * (sendmmsg on an AF_PACKET socket that bypasses the queueing discipline): ~690k pkt/s on
 * the same veth pair. A full socket buffer (ENOBUFS) is retried, never skipped, so every
 * frame is sent; `retries` says how often the kernel pushed back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH_MAX 1024

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: burst-sender IFACE FILE COUNT PPS\n");
    return 2;
  }
  const long count = atol(argv[3]);
  const double pps = atof(argv[4]);
  if (count <= 0 || pps <= 0) {
    fprintf(stderr, "burst-sender: COUNT and PPS must be positive numbers (got %s, %s)\n", argv[3], argv[4]);
    return 2;
  }
  FILE *f = fopen(argv[2], "rb");
  if (f == NULL) {
    fprintf(stderr, "burst-sender: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  uint32_t gh[6];
  if (fread(gh, 4, 6, f) != 6 || (gh[0] != 0xa1b2c3d4 && gh[0] != 0xa1b23c4d) || gh[5] != 1) {
    fprintf(stderr, "burst-sender: %s is not a little-endian pcap of Ethernet frames\n", argv[2]);
    return 1;
  }
  struct iovec *iov = calloc((size_t)count, sizeof *iov);
  struct mmsghdr *msg = calloc((size_t)count, sizeof *msg);
  if (iov == NULL || msg == NULL) {
    fprintf(stderr, "burst-sender: out of memory for %ld frames\n", count);
    return 1;
  }
  long n = 0;
  while (n < count) {
    uint32_t rh[4];
    if (fread(rh, 4, 4, f) != 4) break;
    void *frame = malloc(rh[2]);
    if (frame == NULL || fread(frame, 1, rh[2], f) != rh[2]) {
      fprintf(stderr, "burst-sender: %s: frame %ld is cut short\n", argv[2], n + 1);
      return 1;
    }
    iov[n].iov_base = frame;
    iov[n].iov_len = rh[2];
    msg[n].msg_hdr.msg_iov = &iov[n];
    msg[n].msg_hdr.msg_iovlen = 1;
    n++;
  }
  fclose(f);
  if (n < count) {
    fprintf(stderr, "burst-sender: %s holds %ld frames, fewer than %ld\n", argv[2], n, count);
    return 1;
  }
  int s = socket(AF_PACKET, SOCK_RAW, 0);
  if (s < 0) {
    fprintf(stderr, "burst-sender: packet socket: %s (needs CAP_NET_RAW)\n", strerror(errno));
    return 1;
  }
  int one = 1;
  setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[1])};
  if (sll.sll_ifindex == 0 || bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) {
    fprintf(stderr, "burst-sender: interface %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  // The caller starts its clocks here: loading the frames is not part of the burst.
  printf("{\"loaded\":%ld}\n", n);
  fflush(stdout);
  const double t0 = now();
  long sent = 0, retries = 0;
  while (sent < n) {
    long due = (long)((now() - t0) * pps) + 1;
    if (due > n) due = n;
    if (due <= sent) continue;
    long k = due - sent;
    if (k > BATCH_MAX) k = BATCH_MAX;
    int r = sendmmsg(s, msg + sent, (unsigned)k, 0);
    if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
        retries++;
        continue;
      }
      fprintf(stderr, "burst-sender: sendmmsg after %ld frames: %s\n", sent, strerror(errno));
      return 1;
    }
    sent += r;
  }
  const double seconds = now() - t0;
  printf("{\"sent\":%ld,\"seconds\":%.4f,\"pps\":%.0f,\"retries\":%ld}\n", sent, seconds, (double)sent / seconds, retries);
  return 0;
}
