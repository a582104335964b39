/*
 * echo_load: single-threaded epoll load generator for TCP echo servers, used
 * by Benchmarks/echo/run.sh.
 *
 *   echo_load -p PORT -c CONNS -d SECONDS [-w WARMUP] [-s SIZE] [-U]
 *       Opens CONNS connections to 127.0.0.1:PORT (TCP_NODELAY). Each one does
 *       closed-loop round trips: send a SIZE-byte message (default 64), wait
 *       until SIZE bytes have come back (checked to match), repeat. Round
 *       trips finishing during the WARMUP seconds (default 1) are not counted;
 *       those finishing in the next SECONDS are. Prints one line:
 *         connections=N roundtrips=R seconds=D rps=R/D
 *       (seconds is the measured window, D to within a few microseconds).
 *       With -U the replies are expected upper-cased (an upper-casing echo server).
 *
 *   echo_load -p PORT --idle N -d SECONDS
 *       Opens N connections, sends nothing, holds them SECONDS after the last
 *       one has connected, then exits. When all are open it says so on stderr
 *       ("echo_load: N idle connections open; ..."). Prints one line:
 *         idle=N open=M closed=K seconds=D
 *       where closed counts connections the server closed while they were held.
 *       Used to measure a server's memory with many idle connections.
 *
 * Connections are opened with at most 256 connects in flight so that the
 * server's accept queue is not overrun. RLIMIT_NOFILE is raised as needed (up
 * to the hard limit). Exit status 1 on any connection failure.
 *
 * Build: gcc -O2 -o echo_load echo_load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT_CONNECTS 256
#define CONNECT_TIMEOUT_S 60.0
#define MAX_EVENTS 1024
#define MAX_MSG 65536

enum state { CONNECTING, SENDING, RECEIVING, IDLE, CLOSED };

struct conn {
    int fd;
    enum state state;
    size_t sent;     /* bytes of the current message sent */
    size_t received; /* bytes of the current reply received */
};

static int epfd;
static size_t msg_size = 64;
static char msg[MAX_MSG];
static char expected[MAX_MSG]; /* the reply: msg, or msg upper-cased with -U */

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
    fprintf(stderr,
            "usage: %s -p PORT -c CONNS -d SECONDS [-w WARMUP] [-s SIZE] [-U]\n"
            "       %s -p PORT --idle N -d SECONDS\n",
            argv0, argv0);
    exit(2);
}

static void raise_nofile(size_t needed) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
    if (rl.rlim_cur >= needed) return;
    if (rl.rlim_max < needed) {
        rl.rlim_max = needed; /* only works with CAP_SYS_RESOURCE */
    }
    rl.rlim_cur = needed;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr, "echo_load: need %zu open files but the hard limit is %llu\n",
                needed, (unsigned long long)rl.rlim_max);
        exit(1);
    }
}

static void watch(struct conn *c, int op, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void start_connect(struct conn *c, const struct sockaddr_in *addr) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    c->state = CONNECTING;
    watch(c, EPOLL_CTL_ADD, EPOLLOUT);
}

/* Open every connection; returns when all are connected. */
static void connect_all(struct conn *conns, size_t n, const struct sockaddr_in *addr) {
    size_t started = 0, connected = 0, inflight = 0;
    struct epoll_event events[MAX_EVENTS];
    double deadline = now() + CONNECT_TIMEOUT_S;
    while (connected < n) {
        while (started < n && inflight < MAX_INFLIGHT_CONNECTS) {
            start_connect(&conns[started++], addr);
            inflight++;
        }
        int k = epoll_wait(epfd, events, MAX_EVENTS, 1000);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < k; i++) {
            struct conn *c = events[i].data.ptr;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                errno = err;
                die("connect");
            }
            c->state = IDLE;
            watch(c, EPOLL_CTL_MOD, 0); /* quiet until the caller says */
            inflight--;
            connected++;
        }
        if (now() > deadline) {
            fprintf(stderr, "echo_load: only %zu of %zu connections opened in %.0f s\n",
                    connected, n, CONNECT_TIMEOUT_S);
            exit(1);
        }
    }
}

/* Send (the rest of) the message; returns 0, or -1 if the connection failed. */
static int send_msg(struct conn *c) {
    while (c->sent < msg_size) {
        ssize_t w = write(c->fd, msg + c->sent, msg_size - c->sent);
        if (w > 0) {
            c->sent += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state != SENDING) watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
            c->state = SENDING;
            return 0;
        } else {
            return -1;
        }
    }
    if (c->state == SENDING) watch(c, EPOLL_CTL_MOD, EPOLLIN);
    c->state = RECEIVING;
    return 0;
}

static int run_roundtrips(struct conn *conns, size_t n, double warmup, double duration) {
    for (size_t i = 0; i < n; i++) {
        conns[i].sent = conns[i].received = 0;
        conns[i].state = RECEIVING; /* so send_msg leaves the watch as set below */
        watch(&conns[i], EPOLL_CTL_MOD, EPOLLIN);
        if (send_msg(&conns[i]) < 0) die("write");
    }
    char buf[MAX_MSG];
    struct epoll_event events[MAX_EVENTS];
    unsigned long long total = 0, at_start = 0;
    double t0 = now(), t_start = t0 + warmup, t_end = t_start + duration;
    double measured_start = 0;
    int measuring = 0;
    for (;;) {
        double t = now();
        if (!measuring && t >= t_start) {
            measuring = 1;
            measured_start = t;
            at_start = total;
        }
        if (measuring && t >= t_end) {
            double secs = t - measured_start;
            unsigned long long r = total - at_start;
            printf("connections=%zu roundtrips=%llu seconds=%.3f rps=%.0f\n", n, r, secs,
                   (double)r / secs);
            return 0;
        }
        double until = measuring ? t_end : t_start;
        int timeout_ms = (int)((until - t) * 1000.0) + 1;
        int k = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < k; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->state == SENDING && (events[i].events & EPOLLOUT)) {
                if (send_msg(c) < 0) die("write");
            }
            if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            size_t want = msg_size - c->received;
            ssize_t r = read(c->fd, buf, want);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
            if (r < 0) die("read");
            if (r == 0) {
                fprintf(stderr, "echo_load: server closed a connection\n");
                exit(1);
            }
            if (memcmp(buf, expected + c->received, (size_t)r) != 0) {
                fprintf(stderr, "echo_load: echoed bytes differ from those sent\n");
                exit(1);
            }
            c->received += (size_t)r;
            if (c->received == msg_size) { /* round trip done: next message */
                total++;
                c->sent = c->received = 0;
                if (send_msg(c) < 0) die("write");
            }
        }
    }
}

static int run_idle(struct conn *conns, size_t n, double duration) {
    for (size_t i = 0; i < n; i++) watch(&conns[i], EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
    size_t closed = 0;
    char buf[4096];
    struct epoll_event events[MAX_EVENTS];
    double t0 = now(), t_end = t0 + duration;
    for (double t = t0; t < t_end; t = now()) {
        int k = epoll_wait(epfd, events, MAX_EVENTS, (int)((t_end - t) * 1000.0) + 1);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < k; i++) {
            struct conn *c = events[i].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR))) continue;
            watch(c, EPOLL_CTL_DEL, 0); /* EOF or error: the server let go */
            c->state = CLOSED;
            closed++;
        }
    }
    printf("idle=%zu open=%zu closed=%zu seconds=%.3f\n", n, n - closed, closed, now() - t0);
    return 0;
}

int main(int argc, char **argv) {
    int port = 0;
    long conns_n = 0, idle_n = 0;
    double duration = -1, warmup = 1;
    static const struct option longopts[] = {
        {"idle", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    int upper = 0;
    while ((opt = getopt_long(argc, argv, "p:c:d:w:s:Uh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'U': upper = 1; break;
        case 'p': port = atoi(optarg); break;
        case 'c': conns_n = atol(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': msg_size = (size_t)atol(optarg); break;
        case 'i': idle_n = atol(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || port <= 0 || port > 65535 || duration < 0 || warmup < 0 ||
        (conns_n > 0) == (idle_n > 0) || msg_size == 0 || msg_size > MAX_MSG)
        usage(argv[0]);

    signal(SIGPIPE, SIG_IGN);
    size_t n = (size_t)(idle_n > 0 ? idle_n : conns_n);
    raise_nofile(n + 64);
    for (size_t i = 0; i < msg_size; i++) {
        msg[i] = (char)('a' + i % 26);
        expected[i] = upper ? (char)('A' + i % 26) : msg[i];
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    struct conn *conns = calloc(n, sizeof *conns);
    if (!conns) die("calloc");

    connect_all(conns, n, &addr);
    if (idle_n > 0) /* run.sh waits for this line before sampling the server */
        fprintf(stderr, "echo_load: %zu idle connections open; holding %.3g s\n", n, duration);
    int rc = idle_n > 0 ? run_idle(conns, n, duration) : run_roundtrips(conns, n, warmup, duration);
    fflush(stdout);
    return rc;
}
