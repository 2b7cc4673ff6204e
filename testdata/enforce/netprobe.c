/* A static test program for test/integration/enforce.test.ts: one connect (tcp) or one
 * unconnected sendto (udp) to ADDR (IPv4 or IPv6 text) and PORT, which prints what the
 * call returned and exits 0 whatever it was, like a program that ignores the error: a step
 * that fails does so because the probe killed it.
 *   netprobe tcp|udp ADDR PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[1], "tcp") != 0 && strcmp(argv[1], "udp") != 0)) {
    fprintf(stderr, "usage: netprobe tcp|udp ADDR PORT\n");
    return 2;
  }
  int udp = strcmp(argv[1], "udp") == 0;
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, argv[2], &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((unsigned short)atoi(argv[3]));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, argv[2], &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)atoi(argv[3]));
    len = sizeof *v6;
  } else {
    fprintf(stderr, "netprobe: bad address %s\n", argv[2]);
    return 2;
  }
  int s = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (s < 0) {
    perror("netprobe: socket");
    return 2;
  }
  int r = udp ? (int)sendto(s, "x", 1, 0, (struct sockaddr *)&ss, len) : connect(s, (struct sockaddr *)&ss, len);
  printf("netprobe %s %s %s: %s\n", argv[1], argv[2], argv[3], r < 0 ? strerror(errno) : "ok");
  fflush(stdout);
  close(s);
  return 0;
}
