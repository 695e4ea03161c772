/*
 * command.h - the kinds of command an object's queue can hold, as one list.
 *
 * A command is a row in an object's queue (struct dd_command in model.h):
 * anybody appends one, the object's update worker consumes it.  The store
 * and the wire keep a kind as its name ("release"); code compares kinds as
 * this enum, through dd_command_kind_parse(), never by string.  Which
 * objects take each kind, when, and what applying it does is the command
 * table in worker/command.h.
 */
#ifndef DD_COMMAND_H
#define DD_COMMAND_H

/* X(enum name, name as stored and sent) */
#define DD_COMMAND_MAP(X)                                                      \
	X(RELEASE, "release")                                                  \
	X(EXTEND, "extend")                                                    \
	X(RECLAIM, "reclaim")                                                  \
	X(FINISH, "finish")                                                    \
	X(DRAIN, "drain")

enum dd_command_kind {
#define DD_COMMAND_ENUM(name, word) DD_CMD_##name,
	DD_COMMAND_MAP(DD_COMMAND_ENUM)
#undef DD_COMMAND_ENUM
	DD_COMMAND_KIND_COUNT
};

/* "release"; "unknown" for a value outside the list. */
const char *dd_command_kind_name(enum dd_command_kind kind);
/* Parse a kind's name; returns the kind or -1. */
int dd_command_kind_parse(const char *name);

#endif
