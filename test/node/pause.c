/*
 * The pod sandbox's pause process for the single-node cluster of test/node/:
 * it holds the pod's namespaces, sleeps until SIGTERM or SIGINT and reaps
 * children it inherits (it is PID 1 of the pod when the PID namespace is
 * shared). Built static, into an image FROM scratch, because nothing can be
 * pulled here.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) {
  (void)signo;
  _exit(0);
}

static void reap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction on_stop = {0};
  on_stop.sa_handler = stop;
  sigaction(SIGTERM, &on_stop, NULL);
  sigaction(SIGINT, &on_stop, NULL);
  struct sigaction on_child = {0};
  on_child.sa_handler = reap;
  on_child.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &on_child, NULL);
  for (;;) pause();
  return 0;
}
