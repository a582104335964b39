// IRC fan-out load generator for Benchmarks/chat/run.sh.
//
//   loadgen PORT CLIENTS SENDERS MESSAGES [SERVER_PID]
//
// A watcher connects and registers first. Then CLIENTS clients connect to 127.0.0.1:PORT all at
// once, as after a server restart (non-blocking connects, from loopback source addresses 127.0.0.X,
// 5,000 clients each, so that no address runs out of ephemeral ports), register
// (NICK, USER) and join #lobby (tincan puts them there itself; the JOIN is then a no-op); one
// that is refused or reset before it is in connects again (reconnects=C). The storm
// ends when every client has seen the lobby's end of NAMES (storm_seconds=S, from the first
// connect). Meanwhile the watcher, on a thread of its own so that the storm's clients cannot delay
// it here, PINGs the server every 100 ms (one PING at a time) and the round trips are its view of
// the server during the storm (watcher_p50_us, watcher_max_us). Then
// the joins must quiet down (nothing arrives for 300 ms). Then the first SENDERS clients send
// MESSAGES messages in all, round robin, as fast as the server takes them; each carries its send
// time. It ends when every client has every message it should get (all but its own), and prints
// one line:
//
//   storm_seconds=T reconnects=C watcher_pings=K watcher_p50_us=W watcher_max_us=M deliveries=N seconds=S per_second=R p50_us=A p99_us=B
//
// With STORM=0 in the environment the clients connect one after the other instead (each connect
// waits until the server's kernel has taken the last), from 127.0.0.1.
//
// With LOGIN=PASSWORD in the environment every client logs in to its own account (bN, with that
// password) by SASL PLAIN, sent with its registration in one write, as tincan takes it.
//
// A storm that has not ended after STORM_LIMIT seconds (environment, default 600) is reported as
// storm_seconds=-1 and the run ends there (exit status 3).
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
#include <pthread.h>
#include <stdatomic.h>
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
    int connected;
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

// The watcher's thread: PINGs every 100 ms while the storm lasts, then reads and drops whatever
// comes (the lobby's messages) until the run ends.
static atomic_int storm_over, run_over;
static uint32_t pings[100000];
static long ping_count;

static void *watch(void *arg) {
    int fd = *(int *)arg;
    char buffer[65536];
    struct timeval tick = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    while (!atomic_load(&run_over)) {
        if (atomic_load(&storm_over) || ping_count == 100000) {
            if (recv(fd, buffer, sizeof buffer, 0) == 0) break;
            continue;
        }
        long sent = 0, last = 0;
        char line[64];
        snprintf(line, sizeof line, "PING :w%ld\r\n", sent = now_us());
        if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) break;
        // Until the PONG (the lobby's JOINs may come first); a PONG split across two reads is
        // found by keeping the tail of the last one.
        char carry[32] = "";
        for (;;) {
            size_t kept = strlen(carry);
            memcpy(buffer, carry, kept);
            ssize_t got = recv(fd, buffer + kept, sizeof buffer - kept - 1, 0);
            if (got == 0) return NULL;
            if (got < 0) continue;
            buffer[kept + (size_t)got] = 0;
            if (strstr(buffer, " :w")) break;
            size_t total = kept + (size_t)got, tail = total < 16 ? total : 16;
            memcpy(carry, buffer + total - tail, tail);
            carry[tail] = 0;
        }
        last = now_us();
        pings[ping_count++] = (uint32_t)(last - sent);
        long wait = 100000 - (last - sent);
        if (wait > 0) usleep((useconds_t)wait);
    }
    return NULL;
}

// Starts client i's non-blocking connect, from 127.0.0.(first_source + i / 5000); its
// registration goes out once it connects.
static void start_connect(client_t *clients, int i, int ep, const struct sockaddr_in *addr, uint32_t first_source) {
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in source = {.sin_family = AF_INET};
    source.sin_addr.s_addr = htonl(0x7F000000u + first_source + (uint32_t)(i / 5000));
    // The port is chosen at connect, for the whole address pair: a bind to port 0 would search
    // for a port free on every pair, slowly once earlier runs left sockets in TIME_WAIT.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&source, sizeof source) < 0) die("bind");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS) die("connect");
    clients[i].fd = fd;
    clients[i].connected = 0;
    clients[i].in_len = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
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

/// Standard base64 of `length` bytes into `out` (NUL-terminated).
static void base64(const unsigned char *in, size_t length, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < length; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < length ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < length ? in[i + 2] : 0);
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < length ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < length ? alphabet[v & 63] : '=';
    }
    out[o] = 0;
}

/// Client i's registration: NICK and USER and JOIN, with a SASL PLAIN login first under LOGIN.
static void hello(char *out, size_t size, unsigned i) {
    const char *password = getenv("LOGIN");
    if (!password || !*password) {
        snprintf(out, size, "NICK b%u\r\nUSER b%u 0 * :bench\r\nJOIN #lobby\r\n", i, i);
        return;
    }
    unsigned char plain[200];
    int length = snprintf((char *)plain, sizeof plain, "%cb%u%c%s", 0, i, 0, password);
    char encoded[300];
    base64(plain, (size_t)length, encoded);
    snprintf(out, size, "CAP REQ :sasl\r\nNICK b%u\r\nUSER b%u 0 * :bench\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE %s\r\nCAP END\r\nJOIN #lobby\r\n",
             i, i, encoded);
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

    // The watcher: registered before the storm, PINGing through it.
    client_t watcher = {0};
    watcher.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (watcher.fd < 0) die("socket");
    if (connect(watcher.fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(watcher.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    send_all(watcher.fd, "NICK watcher\r\nUSER watcher 0 * :watcher\r\nJOIN #lobby\r\n");
    while (!watcher.joined) {
        ssize_t got = recv(watcher.fd, watcher.in + watcher.in_len, sizeof watcher.in - watcher.in_len - 1, 0);
        if (got <= 0) die("watcher registration");
        watcher.in_len += (size_t)got;
        consume(&watcher, 0);
    }
    pthread_t watcher_thread;
    pthread_create(&watcher_thread, NULL, watch, &watcher.fd);

    // The storm: every connect started at once, each client's registration sent as it connects.
    // Sources 127.0.0.X from a block of 4 that this run picks by its process id: an address's
    // ports stay in TIME_WAIT for a minute after a run, so runs in a row use other addresses.
    uint32_t first_source = 2 + (uint32_t)(getpid() % 60) * 4;
    long storm_limit = getenv("STORM_LIMIT") ? atol(getenv("STORM_LIMIT")) : 600;
    long storm_start = now_us();
    if (getenv("STORM") && strcmp(getenv("STORM"), "0") == 0) {
        // One after the other instead: each connect waits for the last to be taken, as the
        // fan-out comparisons do (ngircd's listen backlog of 10 cannot take a storm).
        for (int i = 0; i < nclients; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) die("socket");
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            fcntl(fd, F_SETFL, O_NONBLOCK);
            clients[i].fd = fd;
            clients[i].connected = 1;
            char line[600];
            hello(line, sizeof line, (unsigned)i);
            send_all(fd, line);
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
    } else {
        for (int i = 0; i < nclients; i++) start_connect(clients, i, ep, &addr, first_source);
    }
    struct epoll_event events[256];
    long storm_us = -1, reconnects = 0;
    long quiet_since = now_us();
    int joined = 0;
    while (joined < nclients || now_us() - quiet_since < 300000) {
        long now = now_us();
        if (joined < nclients && now - storm_start > storm_limit * 1000000L) {
            printf("storm_seconds=-1 joined=%d\n", joined);
            return 3;
        }
        int n = epoll_wait(ep, events, 256, 20);
        for (int e = 0; e < n; e++) {
            client_t *c = &clients[events[e].data.u32];
            if (!c->connected && (events[e].events & EPOLLOUT)) {
                int error = 0;
                socklen_t length = sizeof error;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
                if (error) {
                    // Refused or timed out (a server's accept queue overflowing): try again, as
                    // a client does after a restart.
                    close(c->fd);
                    start_connect(clients, (int)events[e].data.u32, ep, &addr, first_source);
                    reconnects++;
                    continue;
                }
                c->connected = 1;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[e].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                char line[600];
                hello(line, sizeof line, events[e].data.u32);
                send_all(c->fd, line);
            }
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            int was = c->joined;
            if (read_ready(c, 0) < 0) {
                if (c->joined) {
                    fprintf(stderr, "loadgen: client %u disconnected during setup\n", events[e].data.u32);
                    return 1;
                }
                // Reset before it was in (a connection the server's full accept queue dropped):
                // connect again, as a client does after a restart.
                close(c->fd);
                start_connect(clients, (int)events[e].data.u32, ep, &addr, first_source);
                reconnects++;
                continue;
            }
            joined += c->joined - was;
            if (joined == nclients && storm_us < 0) {
                storm_us = now_us() - storm_start;
                atomic_store(&storm_over, 1);
            }
            quiet_since = now_us();
        }
    }
    atomic_store(&storm_over, 1);
    qsort(pings, (size_t)ping_count, sizeof *pings, cmp_u32);
    printf("storm_seconds=%.3f reconnects=%ld watcher_pings=%ld watcher_p50_us=%u watcher_max_us=%u ", (double)storm_us / 1e6, reconnects, ping_count,
           ping_count ? pings[ping_count / 2] : 0, ping_count ? pings[ping_count - 1] : 0);

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
    atomic_store(&run_over, 1);
    shutdown(watcher.fd, SHUT_RDWR);
    pthread_join(watcher_thread, NULL);
    close(watcher.fd);
    return 0;
}
