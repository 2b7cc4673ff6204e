/* A static test program for test/integration/enforce.test.ts: one connect (tcp), one
 * unconnected sendto (udp), or one sendmmsg of two UDP messages to two destinations (mmsg)
 * to ADDR (IPv4 or IPv6 text) and PORT, which prints what the call returned and exits 0
 * whatever it was, like a program that ignores the error: a step that fails does so
 * because the probe killed it.
 *   netprobe tcp|udp ADDR PORT
 *   netprobe mmsg ADDR PORT ADDR2 PORT2 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ADDR and PORT into ss; its length, or 0 when ADDR is no address. */
static socklen_t parse(const char *addr, const char *port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((unsigned short)atoi(port));
    return sizeof *v4;
  }
  if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)atoi(port));
    return sizeof *v6;
  }
  fprintf(stderr, "netprobe: bad address %s\n", addr);
  exit(2);
}

int main(int argc, char **argv) {
  int mmsg = argc == 6 && strcmp(argv[1], "mmsg") == 0;
  if (!mmsg && (argc != 4 || (strcmp(argv[1], "tcp") != 0 && strcmp(argv[1], "udp") != 0))) {
    fprintf(stderr, "usage: netprobe tcp|udp ADDR PORT | netprobe mmsg ADDR PORT ADDR2 PORT2\n");
    return 2;
  }
  int udp = strcmp(argv[1], "tcp") != 0;
  struct sockaddr_storage ss, ss2;
  socklen_t len = parse(argv[2], argv[3], &ss);
  int s = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (s < 0) {
    perror("netprobe: socket");
    return 2;
  }
  int r;
  if (mmsg) {
    socklen_t len2 = parse(argv[4], argv[5], &ss2);
    struct iovec iov = { "x", 1 };
    struct mmsghdr m[2];
    memset(m, 0, sizeof m);
    m[0].msg_hdr = (struct msghdr){ .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
    m[1].msg_hdr = (struct msghdr){ .msg_name = &ss2, .msg_namelen = len2, .msg_iov = &iov, .msg_iovlen = 1 };
    r = sendmmsg(s, m, 2, 0);
    printf("netprobe mmsg %s %s %s %s: ", argv[2], argv[3], argv[4], argv[5]);
    if (r < 0)
      printf("%s\n", strerror(errno));
    else
      printf("%d sent\n", r);
  } else {
    r = udp ? (int)sendto(s, "x", 1, 0, (struct sockaddr *)&ss, len) : connect(s, (struct sockaddr *)&ss, len);
    printf("netprobe %s %s %s: %s\n", argv[1], argv[2], argv[3], r < 0 ? strerror(errno) : "ok");
  }
  fflush(stdout);
  close(s);
  return 0;
}
