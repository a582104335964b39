/*
 * udp_load: single-threaded epoll load generator for UDP echo servers, used
 * by Benchmarks/echo/run.sh.
 *
 *   udp_load -p PORT -c FLOWS -d SECONDS [-w WARMUP] [-s SIZE] [-U]
 *       Opens FLOWS UDP sockets, each connected to 127.0.0.1:PORT (a flow is
 *       one source port). Each flow does closed-loop round trips: send a
 *       SIZE-byte datagram (default 64) carrying the flow's sequence number,
 *       wait for it to come back (checked: same sequence number, same bytes, or
 *       upper-cased with -U), repeat. A flow whose answer has not come back
 *       within 200 ms counts it lost and sends the next one; answers to lost
 *       datagrams are counted stale and dropped. Round trips finishing during
 *       the WARMUP seconds (default 1) are not counted. Prints one line:
 *         flows=N roundtrips=R seconds=D rps=R/D lost=L stale=S
 *
 * Build: gcc -O2 -o udp_load udp_load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS 4096
#define MAX_SIZE 65507
#define LOSS_TIMEOUT_S 0.2

struct flow {
    int fd;
    uint32_t seq;   /* the datagram in flight */
    double sent_at; /* when it was sent */
};

static size_t size = 64;
static int upper;
static char out[MAX_SIZE], in[MAX_SIZE], expected[MAX_SIZE];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s -p PORT -c FLOWS -d SECONDS [-w WARMUP] [-s SIZE] [-U]\n", argv0);
    exit(2);
}

/* The datagram for sequence number seq: 4 bytes of seq, then letters. */
static void fill(char *buf, uint32_t seq, int upcase) {
    memcpy(buf, &seq, sizeof seq);
    for (size_t i = sizeof seq; i < size; i++) buf[i] = (char)((upcase ? 'A' : 'a') + i % 26);
}

static void send_next(struct flow *f, double t) {
    f->seq++;
    fill(out, f->seq, 0);
    if (send(f->fd, out, size, 0) < 0 && errno != ECONNREFUSED) die("send");
    f->sent_at = t;
}

int main(int argc, char **argv) {
    int port = 0, opt;
    long flows_n = 0;
    double duration = -1, warmup = 1;
    while ((opt = getopt(argc, argv, "p:c:d:w:s:U")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': flows_n = atol(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': size = (size_t)atol(optarg); break;
        case 'U': upper = 1; break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || port <= 0 || port > 65535 || flows_n < 1 || flows_n > MAX_FLOWS ||
        duration <= 0 || warmup < 0 || size < 4 || size > MAX_SIZE)
        usage(argv[0]);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    size_t n = (size_t)flows_n;
    struct flow *flows = calloc(n, sizeof *flows);
    if (!flows) die("calloc");
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        flows[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (flows[i].fd < 0) die("socket");
        if (connect(flows[i].fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &flows[i]};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, flows[i].fd, &ev) < 0) die("epoll_ctl");
        send_next(&flows[i], t0);
    }

    unsigned long long total = 0, lost = 0, stale = 0;
    double start = t0 + warmup, end = start + duration;
    struct epoll_event events[MAX_FLOWS];
    for (double t = now(); t < end; t = now()) {
        int k = epoll_wait(epfd, events, MAX_FLOWS, 20);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        t = now();
        for (int i = 0; i < k; i++) {
            struct flow *f = events[i].data.ptr;
            for (;;) {
                ssize_t r = recv(f->fd, in, sizeof in, 0);
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
                if (r < 0 && errno == ECONNREFUSED) {
                    fprintf(stderr, "udp_load: nothing listens on port %d\n", port);
                    exit(1);
                }
                if (r < 0) die("recv");
                uint32_t seq;
                memcpy(&seq, in, sizeof seq);
                if ((size_t)r != size || seq != f->seq) { stale++; continue; }
                fill(expected, seq, upper);
                if (memcmp(in, expected, size) != 0) {
                    fprintf(stderr, "udp_load: echoed bytes differ from those sent\n");
                    exit(1);
                }
                if (t >= start) total++;
                send_next(f, t);
            }
        }
        for (size_t i = 0; i < n; i++) { /* a datagram lost either way: send the next */
            if (t - flows[i].sent_at > LOSS_TIMEOUT_S) {
                if (t >= start) lost++;
                send_next(&flows[i], t);
            }
        }
    }
    double measured = now() - start;
    printf("flows=%zu roundtrips=%llu seconds=%.3f rps=%.0f lost=%llu stale=%llu\n", n, total, measured,
           (double)total / measured, lost, stale);
    return 0;
}
