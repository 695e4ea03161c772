#include "http/exec.h"
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *dd_json_string_lossy(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	struct dd_buf b = DD_BUF_INIT;
	json_t *j;

	for (size_t i = 0; i < n;) {
		size_t l = s[i] ? utf8_len(s + i, n - i) : 1;

		if (l)
			dd_buf_add(&b, (const char *)s + i, l);
		else
			dd_buf_addstr(&b, "\xef\xbf\xbd");
		i += l ? l : 1;
	}
	j = json_stringn(b.buf ? b.buf : "", b.len);
	dd_buf_release(&b);
	return j;
}

/* Read what `fd` has into `b`, keeping at most the limit. */
static bool drain(int fd, struct dd_buf *b, bool *truncated)
{
	char chunk[16384];
	ssize_t got = read(fd, chunk, sizeof(chunk));

	if (got < 0)
		return errno == EINTR || errno == EAGAIN;
	if (got == 0)
		return false;
	if (b->len < DD_EXEC_MAX_OUTPUT) {
		size_t keep = DD_EXEC_MAX_OUTPUT - b->len;

		if ((size_t)got < keep)
			keep = (size_t)got;
		dd_buf_add(b, chunk, keep);
		if (keep < (size_t)got)
			*truncated = true;
	} else {
		*truncated = true;
	}
	return true;
}

int dd_exec_capture(struct dd_store *s, long long lease, char *const argv[],
		    double timeout, struct dd_exec_result *res,
		    struct dd_error *err)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, null = -1;
	struct dd_exec_io io;
	double start = dd_monotonic(), deadline = start + timeout;
	bool out_open = true, err_open = true, killed = false;
	pid_t pid;
	int rc;

	memset(res, 0, sizeof(*res));
	if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) ||
	    (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		rc = dd_error_set(err, DD_ERR_IO,
				  "cannot set up the command's output: %s",
				  strerror(errno));
		goto out;
	}
	io = (struct dd_exec_io){null, out[1], errp[1], true};
	rc = dd_api_exec_spawn(s, lease, argv, &io, &pid, err);
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;
	if (rc)
		goto out;
	while (out_open || err_open) {
		struct pollfd p[2] = {
			{.fd = out_open ? out[0] : -1, .events = POLLIN},
			{.fd = err_open ? errp[0] : -1, .events = POLLIN},
		};
		double left = deadline - dd_monotonic();

		if (left <= 0) {
			if (killed)
				break; /* a grandchild holds the pipe open */
			kill(-pid, SIGKILL);
			killed = res->timed_out = true;
			deadline = dd_monotonic() + 1;
			continue;
		}
		if (poll(p, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && !drain(out[0], &res->out,
					   &res->out_truncated))
			out_open = false;
		if (p[1].revents && !drain(errp[0], &res->err,
					   &res->err_truncated))
			err_open = false;
	}
	if (!killed && (out_open || err_open))
		kill(-pid, SIGKILL);
	rc = dd_exec_wait(pid, &res->exit_status, err);
	res->duration = dd_monotonic() - start;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (null >= 0)
		close(null);
	if (rc)
		dd_exec_result_release(res);
	return rc;
}

json_t *dd_exec_result_to_json(const struct dd_exec_result *res)
{
	return json_pack("{s:i,s:b,s:o,s:o,s:b,s:b,s:f}", "exit_status",
			 res->exit_status, "timed_out", res->timed_out,
			 "stdout",
			 dd_json_string_lossy(res->out.buf, res->out.len),
			 "stderr",
			 dd_json_string_lossy(res->err.buf, res->err.len),
			 "stdout_truncated", res->out_truncated,
			 "stderr_truncated", res->err_truncated, "duration",
			 res->duration);
}

void dd_exec_result_release(struct dd_exec_result *res)
{
	dd_buf_release(&res->out);
	dd_buf_release(&res->err);
}
