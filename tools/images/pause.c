/* podnet's pod "pause" process for the CRI tests: holds the pod's namespaces, does
 * nothing else. Ends on SIGTERM/SIGINT; reaps any child (it is PID 1 of the pod). Built
 * static by scripts/clients/images.sh so the image needs no libc. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGCHLD);
  /* Blocked signals stay pending until sigwait takes them: no handler, no race. */
  sigprocmask(SIG_BLOCK, &wanted, NULL);
  for (;;) {
    int sig = 0;
    if (sigwait(&wanted, &sig) != 0)
      continue;
    if (sig == SIGCHLD) {
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
      continue;
    }
    return 0;
  }
}
