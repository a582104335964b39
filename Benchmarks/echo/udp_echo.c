/*
 * udp_echo: the plain C UDP echo server of the classic examples, the baseline
 * for `tincan echo --udp` in Benchmarks/echo/run.sh.
 *
 *   udp_echo PORT
 *       Binds 127.0.0.1:PORT and answers each datagram (up to 64 KiB, whole)
 *       to its sender: one blocking recvfrom and one sendto per datagram, on
 *       one thread. Runs until killed.
 *
 * Build: gcc -O2 -o udp_echo udp_echo.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    static char buf[65536];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n < 0) continue; /* an ICMP error from an earlier peer; go on */
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}
