#include <stdio.h>

int main(void) {
  puts("hello from the app");
  return 0;
}
