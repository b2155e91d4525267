/*
 * mqtt-load: the benchmark's load generator and sink, in C on plain sockets, so that neither is
 * the limit of a run (the Node generator was: see BENCHMARKS.md). One file, two modes:
 *
 *   mqtt-load pub HOST PORT TOPIC COUNT QOS SIZE RATE WINDOW CONNS [USER PASS]
 *   mqtt-load sub HOST PORT FILTER COUNT QOS IDLE_MS [BATCH_BYTES]
 *   mqtt-load idle HOST PORT CONNS HOLD_MS
 *
 * pub: CONNS connections (MQTT 3.1.1, clean session, keep alive off), COUNT messages of SIZE bytes
 * spread round robin over them, at RATE msg/s (0 = as fast as the broker takes them). QoS 1 keeps
 * at most WINDOW unacknowledged messages in all (WINDOW / CONNS per connection). Each payload
 * starts with its sequence number (4 bytes, big endian) and its send time on CLOCK_MONOTONIC (8
 * bytes, ns; what Node's process.hrtime reads), as bench/payload.ts writes them.
 * sub: one connection subscribed to FILTER at QOS; prints "ready" after the SUBACK, then one JSON
 * line once COUNT distinct messages arrived or none came for IDLE_MS. With BATCH_BYTES (full-speed
 * runs only) the sink wakes once that many bytes wait or 1 ms passed (SO_RCVLOWAT): a broker that
 * writes each message as its own segment would otherwise wake it once per message, and on this
 * 2-core machine the sink's wakeups are CPU taken from the brokers under test. Fixed-rate runs,
 * which measure latency, read every segment as it comes.
 *
 * Both end with one JSON line on stdout that includes their own CPU time (getrusage), so a run
 * shows what the load tools themselves cost. Packets are built in place in one output buffer per
 * connection and written with one write() per batch; reads take up to 256 KiB at a time. The
 * publisher reads its PUBACKs a quarter window at a time (SO_RCVLOWAT, 1 ms at most), so it keeps
 * three quarters of the window in flight without waking once per ack.
 * Built by bench/load-tools.ts with `cc -O2`; no library beyond libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define OUT_CAP (1 << 20)
#define IN_CAP (1 << 18)
#define HEADER_BYTES 12
#define RUN_LIMIT_NS (600LL * 1000000000LL) /* every run ends within 10 minutes */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void die(const char *what) {
  fprintf(stderr, "mqtt-load: %s: %s\n", what, errno ? strerror(errno) : "failed");
  exit(1);
}

typedef struct {
  int fd;
  uint8_t *out;
  size_t out_len; /* bytes waiting to be written */
  size_t out_at;  /* how many of them are written */
  uint8_t *in;
  size_t in_len;
  int inflight;
  uint16_t next_id;
} conn_t;

/* Remaining Length, section 2.2.3: 7 bits a byte, high bit = more. Returns bytes written. */
static int put_varint(uint8_t *p, uint32_t n) {
  int i = 0;
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    p[i++] = b;
  } while (n > 0);
  return i;
}

static int put_str(uint8_t *p, const char *s, size_t len) {
  p[0] = (uint8_t)(len >> 8);
  p[1] = (uint8_t)len;
  memcpy(p + 2, s, len);
  return (int)(2 + len);
}

static void write_all_blocking(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        poll(&pfd, 1, 1000);
        continue;
      }
      die("write");
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Reads one whole packet (blocking, bounded by a 10 s poll): used only during the handshakes. */
static int read_packet_blocking(int fd, uint8_t *buf, size_t cap) {
  size_t have = 0;
  int64_t deadline = now_ns() + 10000000000LL;
  for (;;) {
    if (have >= 2) {
      uint32_t len = 0, mul = 1;
      size_t pos = 1;
      int done = 0;
      while (pos < have && pos < 5) {
        len += (buf[pos] & 0x7f) * mul;
        mul *= 128;
        if ((buf[pos++] & 0x80) == 0) {
          done = 1;
          break;
        }
      }
      if (done && have >= pos + len) return (int)(pos + len);
    }
    if (now_ns() > deadline) {
      errno = ETIMEDOUT;
      die("waiting for the broker's answer");
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    poll(&pfd, 1, 100);
    ssize_t r = read(fd, buf + have, cap - have);
    if (r == 0) {
      errno = ECONNRESET;
      die("broker closed the connection during the handshake");
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("read");
    }
    have += (size_t)r;
  }
}

static int open_conn(const char *host, int port, const char *client_id, const char *user, const char *pass) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    errno = EINVAL;
    die("host must be an IPv4 address");
  }
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) die("connect");
  struct pollfd pfd = {fd, POLLOUT, 0};
  if (poll(&pfd, 1, 10000) != 1) die("connect timeout");
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err) {
    errno = err;
    die("connect");
  }
  /* CONNECT, MQTT 3.1.1 (section 3.1): clean session, keep alive 0 (off) */
  uint8_t body[512];
  int n = 0;
  n += put_str(body + n, "MQTT", 4);
  body[n++] = 4;
  uint8_t flags = 0x02;
  if (user) flags |= 0x80 | (pass ? 0x40 : 0);
  body[n++] = flags;
  body[n++] = 0;
  body[n++] = 0;
  n += put_str(body + n, client_id, strlen(client_id));
  if (user) n += put_str(body + n, user, strlen(user));
  if (user && pass) n += put_str(body + n, pass, strlen(pass));
  uint8_t pkt[520];
  pkt[0] = 0x10;
  int h = 1 + put_varint(pkt + 1, (uint32_t)n);
  memcpy(pkt + h, body, (size_t)n);
  write_all_blocking(fd, pkt, (size_t)(h + n));
  uint8_t ack[64];
  int len = read_packet_blocking(fd, ack, sizeof ack);
  if (len < 4 || ack[0] != 0x20 || ack[3] != 0) {
    fprintf(stderr, "mqtt-load: CONNECT refused (return code %d)\n", len >= 4 ? ack[3] : -1);
    exit(1);
  }
  return fd;
}

/* poll() reports the socket readable only once `bytes` wait (Linux tcp_poll honours SO_RCVLOWAT). */
static void set_lowat(int fd, int bytes) {
  if (bytes > 1 && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) < 0) die("SO_RCVLOWAT");
}

static size_t out_free(conn_t *c) { return OUT_CAP - c->out_len; }

/* Writes what is buffered; returns 0 when the socket would block with bytes left. */
static int flush_out(conn_t *c) {
  while (c->out_at < c->out_len) {
    ssize_t w = write(c->fd, c->out + c->out_at, c->out_len - c->out_at);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return 0;
      die("write");
    }
    c->out_at += (size_t)w;
  }
  c->out_at = c->out_len = 0;
  return 1;
}

/* ---------------------------------------------------------------- pub */

static uint8_t *filler;

static void put_publish(conn_t *c, const char *topic, size_t topic_len, int qos, size_t size, uint32_t seq) {
  uint8_t *p = c->out + c->out_len;
  uint32_t remaining = (uint32_t)(2 + topic_len + (qos ? 2 : 0) + size);
  int n = 0;
  p[n++] = (uint8_t)(0x30 | (qos << 1));
  n += put_varint(p + n, remaining);
  n += put_str(p + n, topic, topic_len);
  if (qos) {
    if (c->next_id == 0) c->next_id = 1; /* [MQTT-2.3.1-1] non-zero */
    p[n++] = (uint8_t)(c->next_id >> 8);
    p[n++] = (uint8_t)c->next_id;
    c->next_id++;
    c->inflight++;
  }
  uint8_t *payload = p + n;
  int64_t t = now_ns();
  payload[0] = (uint8_t)(seq >> 24);
  payload[1] = (uint8_t)(seq >> 16);
  payload[2] = (uint8_t)(seq >> 8);
  payload[3] = (uint8_t)seq;
  for (int i = 0; i < 8; i++) payload[4 + i] = (uint8_t)((uint64_t)t >> (56 - 8 * i));
  memcpy(payload + HEADER_BYTES, filler, size - HEADER_BYTES);
  c->out_len += (size_t)n + size;
}

/* Counts PUBACKs (and skips anything else the broker sends) in what was read. */
static void take_acks(conn_t *c) {
  for (;;) {
    ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
    if (r == 0) {
      errno = ECONNRESET;
      die("broker closed a publisher connection");
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      die("read");
    }
    c->in_len += (size_t)r;
    size_t at = 0;
    while (c->in_len - at >= 2) {
      uint32_t len = 0, mul = 1;
      size_t pos = at + 1;
      int done = 0;
      while (pos < c->in_len && pos < at + 5) {
        len += (c->in[pos] & 0x7f) * mul;
        mul *= 128;
        if ((c->in[pos++] & 0x80) == 0) {
          done = 1;
          break;
        }
      }
      if (!done || c->in_len < pos + len) break;
      if ((c->in[at] >> 4) == 4) c->inflight--;
      at = pos + len;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
  }
}

static int run_pub(int argc, char **argv) {
  if (argc < 11) {
    fprintf(stderr, "usage: mqtt-load pub HOST PORT TOPIC COUNT QOS SIZE RATE WINDOW CONNS [USER PASS]\n");
    return 2;
  }
  const char *host = argv[2];
  int port = atoi(argv[3]);
  const char *topic = argv[4];
  size_t topic_len = strlen(topic);
  uint32_t count = (uint32_t)strtoul(argv[5], NULL, 10);
  int qos = atoi(argv[6]);
  size_t size = (size_t)atoi(argv[7]);
  if (size < HEADER_BYTES) size = HEADER_BYTES;
  double rate = atof(argv[8]);
  int window = atoi(argv[9]);
  int nconns = atoi(argv[10]);
  const char *user = argc > 11 ? argv[11] : NULL;
  const char *pass = argc > 12 ? argv[12] : NULL;
  if (nconns < 1 || nconns > MAX_CONNS || (qos != 0 && qos != 1) || size + topic_len + 16 > OUT_CAP / 4) {
    fprintf(stderr, "mqtt-load: bad arguments\n");
    return 2;
  }
  int per_window = window / nconns > 0 ? window / nconns : 1;
  filler = malloc(size);
  memset(filler, 'x', size);
  conn_t conns[MAX_CONNS];
  struct pollfd pfds[MAX_CONNS];
  for (int i = 0; i < nconns; i++) {
    char id[64];
    snprintf(id, sizeof id, "bench-gen-%d-%d", (int)getpid(), i);
    conns[i] = (conn_t){open_conn(host, port, id, user, pass), malloc(OUT_CAP), 0, 0, malloc(IN_CAP), 0, 0, 1};
  }
  if (qos) {
    int quarter = per_window / 4 > 64 ? 64 : per_window / 4;
    for (int i = 0; i < nconns; i++) set_lowat(conns[i].fd, 4 * quarter);
  }
  size_t packet_max = 5 + 2 + topic_len + 2 + size;
  double cpu0 = cpu_us();
  int64_t start = now_ns();
  uint32_t seq = 0;
  int next = 0;
  for (;;) {
    int64_t t = now_ns();
    if (t - start > RUN_LIMIT_NS) {
      fprintf(stderr, "mqtt-load: pub gave up after 10 minutes (%u of %u sent)\n", seq, count);
      return 1;
    }
    /* how many may go now: all (full speed) or what the rate says is due */
    uint32_t due = count;
    if (rate > 0) {
      double d = (double)(t - start) / 1e9 * rate;
      due = d >= count ? count : (uint32_t)d;
    }
    /* fill: round robin, one message per connection per step, while there is room */
    int stuck = 0;
    while (seq < due && stuck < nconns) {
      conn_t *c = &conns[next];
      next = (next + 1) % nconns;
      if ((qos && c->inflight >= per_window) || out_free(c) < packet_max || (c->out_len >= 65536 && rate == 0)) {
        stuck++;
        continue;
      }
      stuck = 0;
      put_publish(c, topic, topic_len, qos, size, seq++);
    }
    int pending = 0;
    for (int i = 0; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (!flush_out(c)) pending = 1;
      pfds[i] = (struct pollfd){c->fd, (short)(POLLIN | (c->out_len ? POLLOUT : 0)), 0};
    }
    int inflight = 0;
    for (int i = 0; i < nconns; i++) inflight += conns[i].inflight;
    if (seq == count && !pending && inflight == 0) break;
    /* wait: for acks or writability; at a fixed rate at most until the next 1 ms tick */
    int can_send_more = seq < due && !pending && (!qos || inflight < per_window * nconns);
    int timeout = can_send_more ? 0 : (rate > 0 || inflight > 0 ? 1 : 100);
    int ready = poll(pfds, (nfds_t)nconns, timeout);
    for (int i = 0; i < nconns; i++) {
      /* after a timeout, read what is there: fewer acks than SO_RCVLOWAT never make poll report */
      if (ready == 0 || (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) take_acks(&conns[i]);
    }
  }
  int64_t end = now_ns();
  double cpu = cpu_us() - cpu0;
  /* DISCONNECT (section 3.14) so the broker does not publish a will or log a lost client */
  for (int i = 0; i < nconns; i++) {
    uint8_t disc[2] = {0xe0, 0};
    write_all_blocking(conns[i].fd, disc, 2);
    close(conns[i].fd);
  }
  printf("{\"sent\":%u,\"startNs\":\"%lld\",\"endNs\":\"%lld\",\"cpuUs\":%.0f}\n", seq, (long long)start,
         (long long)end, cpu);
  return 0;
}

/* ---------------------------------------------------------------- sub */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int run_sub(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: mqtt-load sub HOST PORT FILTER COUNT QOS IDLE_MS [BATCH_BYTES]\n");
    return 2;
  }
  const char *host = argv[2];
  int port = atoi(argv[3]);
  const char *filter = argv[4];
  uint32_t count = (uint32_t)strtoul(argv[5], NULL, 10);
  int qos = atoi(argv[6]);
  int64_t idle_ns = (int64_t)atoi(argv[7]) * 1000000LL;
  int batch_bytes = argc > 8 ? atoi(argv[8]) : 0;
  char id[64];
  snprintf(id, sizeof id, "bench-sink-%d", (int)getpid());
  conn_t c = {open_conn(host, port, id, NULL, NULL), malloc(OUT_CAP), 0, 0, malloc(IN_CAP), 0, 0, 1};
  /* SUBSCRIBE (section 3.8): packet id 1, one filter */
  uint8_t sub[600];
  size_t flen = strlen(filter);
  int n = 0;
  sub[n++] = 0x82;
  n += put_varint(sub + n, (uint32_t)(2 + 2 + flen + 1));
  sub[n++] = 0;
  sub[n++] = 1;
  n += put_str(sub + n, filter, flen);
  sub[n++] = (uint8_t)qos;
  write_all_blocking(c.fd, sub, (size_t)n);
  uint8_t ack[64];
  int alen = read_packet_blocking(c.fd, ack, sizeof ack);
  if (alen < 5 || ack[0] != 0x90 || ack[4] > 2) {
    fprintf(stderr, "mqtt-load: SUBSCRIBE refused\n");
    return 1;
  }
  set_lowat(c.fd, batch_bytes);
  printf("ready\n");
  fflush(stdout);

  uint8_t *seen = calloc(count ? count : 1, 1);
  int64_t *latency = malloc(sizeof(int64_t) * (count ? count : 1));
  uint32_t distinct = 0, duplicates = 0;
  int64_t first = 0, last = 0, last_at = now_ns();
  int64_t started = last_at;
  double cpu0 = cpu_us();
  while (distinct < count) {
    struct pollfd pfd = {c.fd, POLLIN, 0};
    poll(&pfd, 1, batch_bytes > 1 ? 1 : 100);
    int64_t t = now_ns();
    if ((distinct > 0 && t - last_at > idle_ns) || t - started > RUN_LIMIT_NS) break;
    ssize_t r = read(c.fd, c.in + c.in_len, IN_CAP - c.in_len);
    if (r == 0) {
      fprintf(stderr, "mqtt-load: broker closed the sink's connection\n");
      break;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("read");
    }
    c.in_len += (size_t)r;
    t = now_ns();
    last_at = t;
    size_t at = 0;
    while (c.in_len - at >= 2) {
      uint32_t len = 0, mul = 1;
      size_t pos = at + 1;
      int done = 0;
      while (pos < c.in_len && pos < at + 5) {
        len += (c.in[pos] & 0x7f) * mul;
        mul *= 128;
        if ((c.in[pos++] & 0x80) == 0) {
          done = 1;
          break;
        }
      }
      if (!done) break;
      if (c.in_len < pos + len) {
        if (pos + len - at > IN_CAP) {
          fprintf(stderr, "mqtt-load: packet larger than the sink's buffer\n");
          return 1;
        }
        break;
      }
      uint8_t type = c.in[at] >> 4;
      if (type == 3) {
        int pq = (c.in[at] >> 1) & 3;
        size_t p = pos;
        size_t tlen = ((size_t)c.in[p] << 8) | c.in[p + 1];
        p += 2 + tlen;
        if (pq > 0) {
          /* PUBACK (section 3.4), written once per read */
          uint8_t *o = c.out + c.out_len;
          o[0] = 0x40;
          o[1] = 2;
          o[2] = c.in[p];
          o[3] = c.in[p + 1];
          c.out_len += 4;
          p += 2;
        }
        if (pos + len - p >= HEADER_BYTES) {
          const uint8_t *pl = c.in + p;
          uint32_t s = ((uint32_t)pl[0] << 24) | ((uint32_t)pl[1] << 16) | ((uint32_t)pl[2] << 8) | pl[3];
          uint64_t sent = 0;
          for (int i = 0; i < 8; i++) sent = (sent << 8) | pl[4 + i];
          if (s < count) {
            if (seen[s]) {
              duplicates++;
            } else {
              seen[s] = 1;
              latency[distinct++] = t - (int64_t)sent;
              if (first == 0) first = t;
              last = t;
            }
          }
        }
      }
      at = pos + len;
      if (c.out_len > OUT_CAP - 8) flush_out(&c);
    }
    memmove(c.in, c.in + at, c.in_len - at);
    c.in_len -= at;
    while (!flush_out(&c)) {
      struct pollfd w = {c.fd, POLLOUT, 0};
      poll(&w, 1, 100);
    }
  }
  double cpu = cpu_us() - cpu0;
  /* TETHER_LOAD_LATENCIES=FILE: every latency (FILE.PID) in arrival order (ns), to see when the slow ones came */
  const char *dump = getenv("TETHER_LOAD_LATENCIES");
  if (dump) {
    char name[512];
    snprintf(name, sizeof name, "%s.%d", dump, (int)getpid());
    FILE *f = fopen(name, "w");
    if (f) {
      for (uint32_t i = 0; i < distinct; i++) fprintf(f, "%lld\n", (long long)latency[i]);
      fclose(f);
    }
  }
  qsort(latency, distinct, sizeof(int64_t), cmp_i64);
  double p50 = distinct ? (double)latency[(size_t)(0.50 * distinct)] / 1000.0 : -1;
  double p99 = distinct ? (double)latency[(size_t)(0.99 * distinct) < distinct ? (size_t)(0.99 * distinct) : distinct - 1] / 1000.0 : -1;
  uint8_t disc[2] = {0xe0, 0};
  write_all_blocking(c.fd, disc, 2);
  close(c.fd);
  printf("{\"distinct\":%u,\"duplicates\":%u,\"lost\":%u,\"firstNs\":\"%lld\",\"lastNs\":\"%lld\",\"p50us\":%.1f,"
         "\"p99us\":%.1f,\"cpuUs\":%.0f}\n",
         distinct, duplicates, count - distinct, (long long)first, (long long)last, p50, p99, cpu);
  return 0;
}

/*
 * idle: CONNS connections, each CONNECTed (clean session, keep alive off) one after the other and
 * then left alone; prints "ready" once every CONNACK is in, holds them until stdin closes (or
 * HOLD_MS), then one JSON line. Measures what idle clients cost a broker (its RSS, read outside).
 */
static int run_idle(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: mqtt-load idle HOST PORT CONNS HOLD_MS\n");
    return 2;
  }
  const char *host = argv[2];
  int port = atoi(argv[3]);
  int conns = atoi(argv[4]);
  int64_t hold_ns = (int64_t)atoll(argv[5]) * 1000000LL;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)conns + 16) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int *fds = calloc((size_t)conns, sizeof(int));
  if (!fds) die("calloc");
  int64_t start = now_ns();
  char id[32];
  for (int i = 0; i < conns; i++) {
    snprintf(id, sizeof id, "idle-%d", i);
    fds[i] = open_conn(host, port, id, NULL, NULL);
  }
  int64_t connected = now_ns();
  printf("ready\n");
  fflush(stdout);
  struct pollfd in = {0, POLLIN, 0};
  int64_t deadline = connected + (hold_ns > 0 ? hold_ns : RUN_LIMIT_NS);
  while (now_ns() < deadline) {
    if (poll(&in, 1, 100) == 1) {
      char b[64];
      if (read(0, b, sizeof b) <= 0) break;
    }
  }
  for (int i = 0; i < conns; i++) close(fds[i]);
  printf("{\"conns\":%d,\"connectMs\":%.1f,\"cpuUs\":%.0f}\n", conns, (double)(connected - start) / 1e6, cpu_us());
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "pub") == 0) return run_pub(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "sub") == 0) return run_sub(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "idle") == 0) return run_idle(argc, argv);
  fprintf(stderr, "usage: mqtt-load pub|sub ...\n");
  return 2;
}
