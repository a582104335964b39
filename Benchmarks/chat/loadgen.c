// IRC fan-out load generator for Benchmarks/chat/run.sh.
//
//   loadgen PORT CLIENTS SENDERS MESSAGES [SERVER_PID]
//
// Connects CLIENTS clients to 127.0.0.1:PORT, registers them (NICK, USER), joins each to #lobby
// (tincan puts them there itself; the JOIN is then a no-op) and waits until every client has seen
// the lobby's end of NAMES and the joins have quieted. Then the first SENDERS clients send
// MESSAGES messages in all, round robin, as fast as the server takes them; each carries its send
// time. It ends when every client has every message it should get (all but its own), and prints
// one line:
//
//   deliveries=N seconds=S per_second=R p50_us=A p99_us=B
//
// With SERVER_PID it adds, from /proc/SERVER_PID: the server's CPU ticks (user + system) spent
// between the first message sent and the last delivered (cpu_ticks=T), its RSS once every client
// was in (setup_kib=K), and its peak RSS up to the last delivery (peak_kib=P). The clients close
// only after that, so the quit storm is in none of these.
//
// Latency is from a message's send to its arrival at each recipient (CLOCK_MONOTONIC, one
// machine). Single-threaded, epoll, non-blocking sockets.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    char in[65536];
    size_t in_len;
    int joined;
    long received;
    long expected;
    char *out;
    size_t out_len, out_off;
} client_t;

static long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

// Field `field` (1-based) of /proc/PID/stat: 14 and 15 are utime and stime, in clock ticks.
static long proc_ticks(int pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');  // the command name may hold spaces
    if (!p) return -1;
    long utime = 0, stime = 0;
    // After ")" come fields 3.. : skip 11 to reach field 14.
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2) return -1;
    return utime + stime;
}

// A "Key:   N kB" line of /proc/PID/status, in KiB.
static long proc_kib(int pid, const char *key) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long value = -1;
    size_t len = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') { value = strtol(line + len + 1, NULL, 10); break; }
    }
    fclose(f);
    return value;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static uint32_t *latencies;
static long latency_count;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void send_all(int fd, const char *text) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n > 0) { off += (size_t)n; continue; }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) { usleep(100); continue; }
        die("send");
    }
}

// Handles the complete lines in c->in; counts joins and measured messages.
static void consume(client_t *c, int measuring) {
    char *start = c->in, *end = c->in + c->in_len, *nl;
    while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
        *nl = 0;
        if (!c->joined && strstr(start, " 366 ")) c->joined = 1;
        if (strncmp(start, "PING", 4) == 0) {
            char reply[600];
            snprintf(reply, sizeof reply, "PONG%s\r\n", start + 4);
            send_all(c->fd, reply);
        }
        char *text = strstr(start, "PRIVMSG #lobby :bench ");
        if (text && measuring) {
            long sent = strtol(text + 22, NULL, 10);
            latencies[latency_count++] = (uint32_t)(now_us() - sent);
            c->received++;
        }
        start = nl + 1;
    }
    c->in_len = (size_t)(end - start);
    memmove(c->in, start, c->in_len);
}

// Reads what is ready on c until the socket is empty, handling each complete line; -1 when the
// server closed the connection.
static int read_ready(client_t *c, int measuring) {
    for (;;) {
        ssize_t got = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len - 1, 0);
        if (got <= 0) return got < 0 && errno == EAGAIN ? 0 : -1;
        c->in_len += (size_t)got;
        consume(c, measuring);
    }
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: loadgen PORT CLIENTS SENDERS MESSAGES [SERVER_PID]\n");
        return 2;
    }
    int port = atoi(argv[1]), nclients = atoi(argv[2]), senders = atoi(argv[3]), messages = atoi(argv[4]);
    int server = argc == 6 ? atoi(argv[5]) : 0;
    client_t *clients = calloc((size_t)nclients, sizeof *clients);
    latencies = malloc(sizeof(uint32_t) * (size_t)nclients * (size_t)messages);
    int ep = epoll_create1(0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);

    for (int i = 0; i < nclients; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        clients[i].fd = fd;
        char hello[200];
        snprintf(hello, sizeof hello, "NICK b%d\r\nUSER b%d 0 * :bench\r\nJOIN #lobby\r\n", i, i);
        send_all(fd, hello);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }

    struct epoll_event events[256];
    // Registration and joins, until every client is in and nothing has arrived for 300 ms.
    long quiet_since = now_us();
    int joined = 0;
    while (joined < nclients || now_us() - quiet_since < 300000) {
        int n = epoll_wait(ep, events, 256, 50);
        for (int e = 0; e < n; e++) {
            client_t *c = &clients[events[e].data.u32];
            int was = c->joined;
            if (read_ready(c, 0) < 0) {
                fprintf(stderr, "loadgen: client %u disconnected during setup\n", events[e].data.u32);
                return 1;
            }
            joined += c->joined - was;
            quiet_since = now_us();
        }
    }

    // Who sends what: message k goes out from sender k % SENDERS.
    for (int i = 0; i < nclients; i++) clients[i].expected = messages - (i < senders ? (messages / senders + (i < messages % senders)) : 0);
    long total_expected = 0;
    for (int i = 0; i < nclients; i++) total_expected += clients[i].expected;

    long setup_kib = server ? proc_kib(server, "VmRSS") : -1;
    long ticks_before = server ? proc_ticks(server) : -1;
    long start = now_us();
    int next = 0;
    long delivered = 0;
    while (delivered < total_expected) {
        // Queue a slice of messages per round, so sending and receiving interleave.
        for (int burst = 0; burst < 50 && next < messages; burst++, next++) {
            client_t *s = &clients[next % senders];
            char line[128];
            snprintf(line, sizeof line, "PRIVMSG #lobby :bench %ld %d\r\n", now_us(), next);
            send_all(s->fd, line);
        }
        int n = epoll_wait(ep, events, 256, next < messages ? 0 : 1000);
        if (n == 0 && next >= messages && now_us() - start > 120000000L) {
            fprintf(stderr, "loadgen: gave up with %ld of %ld deliveries\n", delivered, total_expected);
            return 1;
        }
        for (int e = 0; e < n; e++) {
            client_t *c = &clients[events[e].data.u32];
            long before = c->received;
            if (read_ready(c, 1) < 0) {
                fprintf(stderr, "loadgen: client %u disconnected\n", events[e].data.u32);
                return 1;
            }
            delivered += c->received - before;
        }
    }
    double seconds = (double)(now_us() - start) / 1e6;
    long ticks_after = server ? proc_ticks(server) : -1;
    long peak_kib = server ? proc_kib(server, "VmHWM") : -1;
    qsort(latencies, (size_t)latency_count, sizeof *latencies, cmp_u32);
    printf("deliveries=%ld seconds=%.3f per_second=%.0f p50_us=%u p99_us=%u", delivered, seconds, (double)delivered / seconds,
           latencies[latency_count / 2], latencies[(latency_count * 99) / 100]);
    if (server) printf(" cpu_ticks=%ld setup_kib=%ld peak_kib=%ld", ticks_after - ticks_before, setup_kib, peak_kib);
    printf("\n");
    for (int i = 0; i < nclients; i++) close(clients[i].fd);
    return 0;
}
