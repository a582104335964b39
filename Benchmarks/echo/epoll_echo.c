/*
 * epoll_echo: minimal single-threaded epoll TCP echo server, the C baseline
 * for Benchmarks/echo/run.sh.
 *
 *   usage: epoll_echo PORT        (binds 127.0.0.1:PORT, prints only errors)
 *
 * Level-triggered epoll, non-blocking sockets, SO_REUSEADDR, backlog 4096,
 * TCP_NODELAY on accepted sockets. Each readable event reads up to 64 KiB and
 * writes it straight back; whatever the kernel does not take is kept in a
 * per-connection buffer, reading from that connection stops (backpressure)
 * and EPOLLOUT is watched until the buffer has been flushed.
 *
 * Build: gcc -O2 -o epoll_echo epoll_echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)
#define MAX_EVENTS 1024

struct conn {
    char *pending; /* bytes read but not yet written back */
    size_t len;    /* valid bytes in pending */
    size_t off;    /* bytes of pending already written */
};

static struct conn *conns; /* indexed by fd */
static size_t nconns;
static int epfd;

static void die(const char *what) {
    perror(what);
    exit(1);
}

static struct conn *conn_for(int fd) {
    if ((size_t)fd >= nconns) {
        size_t n = nconns ? nconns : 1024;
        while (n <= (size_t)fd) n *= 2;
        struct conn *c = realloc(conns, n * sizeof *c);
        if (!c) die("realloc");
        memset(c + nconns, 0, (n - nconns) * sizeof *c);
        conns = c;
        nconns = n;
    }
    return &conns[fd];
}

static void close_conn(int fd) {
    struct conn *c = conn_for(fd);
    free(c->pending);
    memset(c, 0, sizeof *c);
    close(fd); /* also removes it from the epoll set */
}

static void watch(int fd, int op, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(epfd, op, fd, &ev) < 0) die("epoll_ctl");
}

/* Write data[0..len) to fd; returns bytes written, or -1 on a fatal error. */
static ssize_t write_some(int fd, const char *data, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return -1;
        }
    }
    return (ssize_t)done;
}

static void on_readable(int fd, char *buf) {
    ssize_t n = read(fd, buf, READ_SIZE);
    if (n == 0) { close_conn(fd); return; }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        close_conn(fd);
        return;
    }
    ssize_t w = write_some(fd, buf, (size_t)n);
    if (w < 0) { close_conn(fd); return; }
    if (w < n) { /* keep the rest, stop reading until it is flushed */
        struct conn *c = conn_for(fd);
        size_t rest = (size_t)(n - w);
        c->pending = malloc(rest);
        if (!c->pending) die("malloc");
        memcpy(c->pending, buf + w, rest);
        c->len = rest;
        c->off = 0;
        watch(fd, EPOLL_CTL_MOD, EPOLLOUT);
    }
}

static void on_writable(int fd) {
    struct conn *c = conn_for(fd);
    ssize_t w = write_some(fd, c->pending + c->off, c->len - c->off);
    if (w < 0) { close_conn(fd); return; }
    c->off += (size_t)w;
    if (c->off == c->len) {
        free(c->pending);
        c->pending = NULL;
        c->len = c->off = 0;
        watch(fd, EPOLL_CTL_MOD, EPOLLIN);
    }
}

static void on_accept(int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept4"); /* e.g. EMFILE: report and retry later */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_for(fd);
        watch(fd, EPOLL_CTL_ADD, EPOLLIN);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "epoll_echo: bad port '%s'\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl; /* allow as many connections as the hard limit does */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("setsockopt");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, 4096) < 0) die("listen");

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    watch(lfd, EPOLL_CTL_ADD, EPOLLIN);

    char *buf = malloc(READ_SIZE);
    if (!buf) die("malloc");
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            uint32_t ev = events[i].events;
            if (fd == lfd) {
                on_accept(lfd);
            } else if (ev & EPOLLOUT) {
                on_writable(fd);
            } else if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                on_readable(fd, buf); /* read() reports EOF or the error */
            }
        }
    }
}
