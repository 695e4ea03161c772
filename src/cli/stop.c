/*
 * stop.c - how a command that runs something stops on SIGINT, SIGTERM or
 * SIGHUP.
 *
 * The first such signal is remembered in cli_stop_signal, and every one
 * writes a byte to a pipe whose read end the running command watches
 * (core/exec.h's cancel_fd), so its process group is stopped the same way
 * (TERM, then KILL after the grace period) whoever asked: a signal, or
 * another thread writing to the same pipe.  A signal handler may only
 * write to a pipe and set a flag, which is all this one does.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t cli_stop_signal;
static int notify_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;

	if (!cli_stop_signal)
		cli_stop_signal = sig;
	if (write(notify_fd, "", 1) < 0) {
		/* the pipe holds a byte already: the command is stopping */
	}
	errno = saved;
}

int cli_stop_on_signals(struct cli_stop *st, struct dd_error *err)
{
	struct sigaction sa = {0};
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return dd_error_set(err, DD_ERR_IO, "cannot make a pipe: %s",
				    strerror(errno));
	st->cancel = p[0];
	st->notify = notify_fd = p[1];
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

void cli_stop_close(struct cli_stop *st)
{
	struct sigaction sa = {0};

	if (st->cancel < 0)
		return;
	/* no handler may write to the pipe once it is closed */
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	notify_fd = -1;
	close(st->cancel);
	close(st->notify);
	st->cancel = st->notify = -1;
}
