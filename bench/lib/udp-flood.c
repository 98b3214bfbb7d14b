/*
 * The bench's UDP load generator (bench/tracker.ts compiles it with gcc -O2).
 * A Node client saturates long before opentracker does, so the announces are
 * pre-encoded by the bench (our codec, 98 bytes each, in one file) and this
 * program only patches the connection id and transaction id in, then keeps a
 * window of them outstanding with sendmmsg/recvmmsg.
 *
 *   udp-flood echo HOST PORT
 *     a trivial BEP 15 "tracker" that answers every packet at once (a connect
 *     with id 0, anything else with an empty announce reply): the client's own
 *     ceiling, measured the same way as the trackers.
 *   udp-flood load HOST PORT PACKETS NPROC WINDOW SECONDS [LOCAL_ADDR]
 *     NPROC processes, each with its own socket, connect once and then keep
 *     WINDOW announces outstanding for SECONDS, cycling over its share of the
 *     packets. Prints one JSON line: answers, errors, sent, seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PKT 98

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int udp_socket(const char *local) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); exit(1); }
  int sz = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  if (local) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, local, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
  }
  return fd;
}

static int echo(struct sockaddr_in *at) {
  int fd = udp_socket(NULL);
  if (bind(fd, (struct sockaddr *)at, sizeof *at) < 0) { perror("bind"); return 1; }
  socklen_t alen = sizeof *at;
  getsockname(fd, (struct sockaddr *)at, &alen);
  printf("{\"port\":%d}\n", ntohs(at->sin_port));
  fflush(stdout);
  static uint8_t in[BATCH][128], out[BATCH][20];
  struct mmsghdr rm[BATCH], sm[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
  struct sockaddr_in from[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      riov[i] = (struct iovec){ in[i], sizeof in[i] };
      rm[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &riov[i], .msg_iovlen = 1 };
    }
    int n = recvmmsg(fd, rm, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) { if (errno == EINTR) continue; perror("recvmmsg"); return 1; }
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (rm[i].msg_len < 16) continue;
      uint32_t action = get32(in[i] + 8);
      memset(out[k], 0, 20);
      put32(out[k], action == 0 ? 0 : 1);
      memcpy(out[k] + 4, in[i] + 12, 4);
      siov[k] = (struct iovec){ out[k], action == 0 ? 16 : 20 };
      sm[k].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &siov[k], .msg_iovlen = 1 };
      k++;
    }
    if (k) sendmmsg(fd, sm, k, 0);
  }
}

/* One process's share: returns via the pipe "answers errors sent seconds". */
static void load_child(struct sockaddr_in *to, uint8_t *pkts, size_t npkts, int id, int nproc, int window, double secs, const char *local, int out) {
  int fd = udp_socket(local ? local : "127.0.0.1");
  if (connect(fd, (struct sockaddr *)to, sizeof *to) < 0) { perror("connect"); exit(1); }
  /* BEP 15 connect, retried: the first packet can be lost to a busy tracker. */
  uint8_t req[16] = { 0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0 }, rep[64];
  put32(req + 12, 0xC0FFEE00u + id);
  int got = 0;
  for (int tries = 0; tries < 20 && !got; tries++) {
    send(fd, req, 16, 0);
    struct pollfd p = { fd, POLLIN, 0 };
    while (poll(&p, 1, 250) > 0) {
      ssize_t r = recv(fd, rep, sizeof rep, 0);
      if (r >= 16 && get32(rep) == 0 && get32(rep + 4) == get32(req + 12)) { got = 1; break; }
    }
  }
  if (!got) { fprintf(stderr, "udp-flood: no connect reply\n"); exit(1); }
  /* My packets, with the connection id patched in. */
  size_t mine = 0;
  uint8_t *my = malloc(npkts / nproc * PKT + PKT);
  for (size_t i = id; i < npkts; i += nproc) {
    memcpy(my + mine * PKT, pkts + i * PKT, PKT);
    memcpy(my + mine * PKT, rep + 8, 8);
    mine++;
  }
  struct mmsghdr sm[BATCH], rm[BATCH];
  struct iovec siov[BATCH], riov[BATCH];
  static uint8_t rbuf[BATCH][1500];
  uint64_t answers = 0, errors = 0, sent = 0, tid = 1;
  long outstanding = 0;
  size_t next = 0;
  double start = now_s(), end = start + secs, t = start;
  while (t < end) {
    int want = window - outstanding;
    if (want > BATCH) want = BATCH;
    int k = 0;
    for (; k < want; k++) {
      uint8_t *p = my + next * PKT;
      if (++next == mine) next = 0;
      put32(p + 12, (uint32_t)tid++);
      siov[k] = (struct iovec){ p, PKT };
      sm[k].msg_hdr = (struct msghdr){ .msg_iov = &siov[k], .msg_iovlen = 1 };
    }
    if (k > 0) {
      int s = sendmmsg(fd, sm, k, 0);
      if (s > 0) { sent += s; outstanding += s; }
    }
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 100) == 0) { outstanding = 0; t = now_s(); continue; } /* lost: refill the window */
    for (int i = 0; i < BATCH; i++) {
      riov[i] = (struct iovec){ rbuf[i], sizeof rbuf[i] };
      rm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
    }
    int n = recvmmsg(fd, rm, BATCH, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) {
      if (rm[i].msg_len >= 8 && get32(rbuf[i]) == 1) answers++;
      else errors++;
    }
    if (n > 0) outstanding -= n;
    if (outstanding < 0) outstanding = 0;
    t = now_s();
  }
  char line[128];
  int len = snprintf(line, sizeof line, "%llu %llu %llu %.6f\n", (unsigned long long)answers, (unsigned long long)errors, (unsigned long long)sent, now_s() - start);
  if (write(out, line, len) != len) exit(1);
  exit(0);
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: udp-flood echo|load HOST PORT ...\n"); return 2; }
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
  inet_pton(AF_INET, argv[2], &to.sin_addr);
  if (strcmp(argv[1], "echo") == 0) return echo(&to);
  if (argc < 8) { fprintf(stderr, "usage: udp-flood load HOST PORT PACKETS NPROC WINDOW SECONDS [LOCAL]\n"); return 2; }
  int fd = open(argv[4], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) { perror(argv[4]); return 1; }
  uint8_t *pkts = malloc(st.st_size);
  if (read(fd, pkts, st.st_size) != st.st_size) { perror("read"); return 1; }
  size_t npkts = st.st_size / PKT;
  int nproc = atoi(argv[5]), window = atoi(argv[6]);
  double secs = atof(argv[7]);
  const char *local = argc > 8 ? argv[8] : NULL;
  int pfd[2];
  if (pipe(pfd) < 0) { perror("pipe"); return 1; }
  for (int i = 0; i < nproc; i++) {
    if (fork() == 0) { close(pfd[0]); load_child(&to, pkts, npkts, i, nproc, window, secs, local, pfd[1]); }
  }
  close(pfd[1]);
  FILE *in = fdopen(pfd[0], "r");
  unsigned long long a, e, s, ta = 0, te = 0, ts = 0;
  double sec, rate = 0, maxsec = 0;
  int done = 0;
  while (fscanf(in, "%llu %llu %llu %lf", &a, &e, &s, &sec) == 4) {
    ta += a; te += e; ts += s; rate += a / sec; if (sec > maxsec) maxsec = sec; done++;
  }
  int status, failed = 0;
  while (wait(&status) > 0) if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  printf("{\"answers\":%llu,\"errors\":%llu,\"sent\":%llu,\"seconds\":%.3f,\"perSecond\":%.0f,\"processes\":%d,\"failed\":%d}\n", ta, te, ts, maxsec, rate, done, failed);
  return failed ? 1 : 0;
}
