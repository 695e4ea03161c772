/*
 * listing.c - printing a list a row at a time, as a table or as the API's
 * page object, so that memory stays flat whatever the count (list,
 * target list, artifact list).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_listing_start(struct cli_listing *ls, const char *header)
{
	if (ls->json)
		fputs("{\"items\":[\n", stdout);
	else
		fputs(header, stdout);
}

/* Whether to print the row `id`: false for the row past the page. */
bool cli_listing_row(struct cli_listing *ls, long long id)
{
	if (ls->limit && ls->n == ls->limit) {
		ls->more = true;
		return false;
	}
	if (ls->json && ls->n)
		fputs(",\n", stdout);
	ls->n++;
	ls->last = id;
	return true;
}

/* Print one JSON item, taking ownership of it. */
int cli_listing_item(json_t *o, struct dd_error *err)
{
	int rc = o ? json_dumpf(o, stdout, JSON_COMPACT | JSON_SORT_KEYS) : -1;

	json_decref(o);
	if (rc)
		return dd_error_set(err, DD_ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * Close the list; `rc` is how the walk ended.  A table's next page is
 * told on stderr, so that stdout stays the rows alone.
 */
int cli_listing_end(struct cli_listing *ls, int rc, struct dd_error *err,
		       const char *what)
{
	if (rc < 0) {
		if (ls->json)
			fputs("\n", stdout);
		fflush(stdout);
		return cli_fail(err);
	}
	if (ls->json) {
		json_t *next = cli_cursor_json(ls->more ? ls->last : 0);
		char *s = json_dumps(next, JSON_ENCODE_ANY);

		printf("%s],\"next_cursor\":%s}\n", ls->n ? "\n" : "",
		       s ? s : "null");
		free(s);
		json_decref(next);
	}
	if (fflush(stdout) || ferror(stdout))
		return cli_error(dd_err_exit_status(DD_ERR_IO),
				 "cannot write the list: %s", strerror(errno));
	if (!ls->json && ls->more)
		fprintf(stderr,
			"drydock: more %s: repeat with --cursor %lld\n", what,
			ls->last);
	return 0;
}
