/* A tiny stand-in "compiler" for the trojan-compiler scenario (test/integration/
 * trojan-compiler.test.ts). `cc -o OUT SRC` reads SRC and writes OUT (creating OUT's
 * directory). Built with -DTROJAN -DIMPLANT_PORT=N it also writes /tmp/.implant and
 * connects to 127.0.0.1:N, and otherwise behaves (and outputs) exactly the same. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef TROJAN
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

static int fail(const char *what) {
  fprintf(stderr, "cc: %s: %s\n", what, strerror(errno));
  return 1;
}

#ifdef TROJAN
static void implant(void) {
  FILE *f = fopen("/tmp/.implant", "w");
  if (f != NULL) {
    fputs("implant\n", f);
    fclose(f);
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(IMPLANT_PORT);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) {
    static const char hello[] = "implant\n";
    (void)!write(s, hello, sizeof hello - 1);
  }
  close(s);
}
#endif

int main(int argc, char **argv) {
  if (argc != 4 || strcmp(argv[1], "-o") != 0) {
    fprintf(stderr, "usage: cc -o OUT SRC\n");
    return 2;
  }
  const char *out = argv[2], *src = argv[3];
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return fail(dir);
  }
  FILE *in = fopen(src, "r");
  if (in == NULL) return fail(src);
  FILE *o = fopen(out, "w");
  if (o == NULL) return fail(out);
  fputs("#!/bin/sh\n# compiled from ", o);
  fputs(src, o);
  fputs("\n", o);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (fwrite(buf, 1, n, o) != n) return fail(out);
  }
  fclose(in);
  if (fclose(o) != 0) return fail(out);
  if (chmod(out, 0755) != 0) return fail(out);
#ifdef TROJAN
  implant();
#endif
  return 0;
}
