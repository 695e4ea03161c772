/*
 * schema_sqlite.h - the SQLite schema as numbered migrations.
 *
 * Migration N (1-based) takes a store from user_version N-1 to N.  Never
 * edit a migration that has shipped: add a new one.  `drydock init` applies
 * whatever is missing, so it is idempotent.
 */
#ifndef DD_SCHEMA_SQLITE_H
#define DD_SCHEMA_SQLITE_H

static const char *const dd_sqlite_migrations[] = {
	/* 1: the core objects, the task queue and named locks */
	"CREATE TABLE blueprint("
	" id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL UNIQUE,"
	" config TEXT NOT NULL, enabled INTEGER NOT NULL,"
	" created REAL NOT NULL, modified REAL NOT NULL);"
	"CREATE TABLE resource("
	" id INTEGER PRIMARY KEY, blueprint INTEGER NOT NULL, type TEXT NOT NULL,"
	" status INTEGER NOT NULL, attributes TEXT NOT NULL,"
	" created REAL NOT NULL, modified REAL NOT NULL);"
	"CREATE INDEX resource_by_status ON resource(status, blueprint);"
	"CREATE TABLE lease("
	" id INTEGER PRIMARY KEY, type TEXT NOT NULL, status INTEGER NOT NULL,"
	" resource INTEGER, owner TEXT, attributes TEXT NOT NULL,"
	" blueprints TEXT, until REAL, allocating INTEGER,"
	" acquired REAL, activated REAL,"
	" created REAL NOT NULL, modified REAL NOT NULL);"
	"CREATE INDEX lease_by_status ON lease(status, type);"
	"CREATE INDEX lease_by_resource ON lease(resource, status)"
	" WHERE resource IS NOT NULL;"
	"CREATE INDEX lease_by_allocating ON lease(allocating)"
	" WHERE allocating IS NOT NULL;"
	"CREATE TABLE command("
	" id INTEGER PRIMARY KEY, target_kind INTEGER NOT NULL,"
	" target INTEGER NOT NULL, kind TEXT NOT NULL, author TEXT, data TEXT,"
	" consumed INTEGER NOT NULL DEFAULT 0, outcome TEXT,"
	" created REAL NOT NULL, consumed_at REAL);"
	"CREATE INDEX command_by_target ON command(target_kind, target, consumed);"
	"CREATE TABLE log("
	" id INTEGER PRIMARY KEY, blueprint INTEGER, resource INTEGER,"
	" lease INTEGER, type TEXT NOT NULL, time REAL NOT NULL, data TEXT);"
	"CREATE INDEX log_by_lease ON log(lease) WHERE lease IS NOT NULL;"
	"CREATE INDEX log_by_resource ON log(resource) WHERE resource IS NOT NULL;"
	"CREATE INDEX log_by_blueprint ON log(blueprint)"
	" WHERE blueprint IS NOT NULL;"
	"CREATE TABLE slot_lock("
	" key TEXT PRIMARY KEY, owner_kind INTEGER NOT NULL,"
	" owner INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX slot_lock_by_owner ON slot_lock(owner_kind, owner);"
	/* task ids are never reused: the archive keeps them */
	"CREATE TABLE task("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
	" object_kind INTEGER NOT NULL, object INTEGER NOT NULL,"
	" not_before REAL NOT NULL, claimed_by TEXT,"
	" claim_token INTEGER NOT NULL DEFAULT 0, claim_expires REAL,"
	" failures INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
	" created REAL NOT NULL);"
	"CREATE UNIQUE INDEX task_queued ON task(kind, object_kind, object)"
	" WHERE claimed_by IS NULL;"
	"CREATE INDEX task_due ON task(not_before) WHERE claimed_by IS NULL;"
	"CREATE INDEX task_claimed ON task(claim_expires)"
	" WHERE claimed_by IS NOT NULL;"
	"CREATE TABLE task_archive("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
	" object_kind INTEGER NOT NULL, object INTEGER NOT NULL,"
	" outcome TEXT NOT NULL, failures INTEGER NOT NULL,"
	" duration REAL NOT NULL, finished REAL NOT NULL, error TEXT);"
	"CREATE INDEX task_archive_by_object"
	" ON task_archive(object_kind, object);"
	/*
	 * Lock grants never reuse a token (AUTOINCREMENT), so a grant
	 * deleted and taken again can never be mistaken for the old one.
	 */
	"CREATE TABLE lock("
	" token INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
	" owner TEXT, expires REAL NOT NULL);",
	/*
	 * 2: leases waiting for capacity are marked, so that freed capacity
	 * wakes only them; the capacity counter closes the window between a
	 * lease finding no room and marking itself waiting.
	 */
	"ALTER TABLE lease ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX lease_waiting ON lease(type, id) WHERE waiting = 1;"
	"CREATE TABLE counter(name TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO counter VALUES('capacity', 0);",
	/*
	 * 3: API tokens.  Only the SHA-256 of a secret is kept; a token is
	 * revoked (revoked > 0), never deleted, so its id is never reused.
	 */
	"CREATE TABLE token("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created REAL NOT NULL,"
	" last_used REAL NOT NULL DEFAULT 0, revoked REAL NOT NULL DEFAULT 0);",
	/*
	 * 4: idempotency records.  A create sent with an idempotency key
	 * writes one in the transaction that creates the object, so a
	 * retried request finds the object instead of making another.  The
	 * key belongs to its caller (a token's identity, or the CLI's
	 * "cli:USER@HOST"): two callers' keys never meet.  Records expire
	 * (api/idem.h); the index on `created` makes pruning cheap.
	 */
	"CREATE TABLE idempotency("
	" caller TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,"
	" hash TEXT NOT NULL, object_kind TEXT NOT NULL,"
	" object INTEGER NOT NULL, created REAL NOT NULL,"
	" PRIMARY KEY(caller, key)) WITHOUT ROWID;"
	"CREATE INDEX idempotency_by_created ON idempotency(created);",
	/*
	 * 5: finished leases and resources counted as they finish.  Their
	 * number only grows (the bench's scale store holds a million), and
	 * counting them at every /metrics scrape read the whole status
	 * index.  Triggers keep the counters 'leases.destroyed' and
	 * 'resources.destroyed' exact whoever writes the rows (an insert of
	 * a finished row, a status change either way, a delete); the live
	 * statuses are counted from the status index, whose range below
	 * 'destroyed' holds only live rows.
	 */
	"INSERT INTO counter SELECT 'leases.destroyed', count(*) FROM lease"
	" WHERE status = 5;"
	"INSERT INTO counter SELECT 'resources.destroyed', count(*)"
	" FROM resource WHERE status = 4;"
	"CREATE TRIGGER lease_destroyed_insert AFTER INSERT ON lease"
	" WHEN NEW.status = 5 BEGIN UPDATE counter SET value = value + 1"
	" WHERE name = 'leases.destroyed'; END;"
	"CREATE TRIGGER lease_destroyed_update AFTER UPDATE OF status ON lease"
	" WHEN (NEW.status = 5) != (OLD.status = 5) BEGIN UPDATE counter"
	" SET value = value + (CASE WHEN NEW.status = 5 THEN 1 ELSE -1 END)"
	" WHERE name = 'leases.destroyed'; END;"
	"CREATE TRIGGER lease_destroyed_delete AFTER DELETE ON lease"
	" WHEN OLD.status = 5 BEGIN UPDATE counter SET value = value - 1"
	" WHERE name = 'leases.destroyed'; END;"
	"CREATE TRIGGER resource_destroyed_insert AFTER INSERT ON resource"
	" WHEN NEW.status = 4 BEGIN UPDATE counter SET value = value + 1"
	" WHERE name = 'resources.destroyed'; END;"
	"CREATE TRIGGER resource_destroyed_update AFTER UPDATE OF status"
	" ON resource WHEN (NEW.status = 4) != (OLD.status = 4) BEGIN"
	" UPDATE counter SET value = value +"
	" (CASE WHEN NEW.status = 4 THEN 1 ELSE -1 END)"
	" WHERE name = 'resources.destroyed'; END;"
	"CREATE TRIGGER resource_destroyed_delete AFTER DELETE ON resource"
	" WHEN OLD.status = 4 BEGIN UPDATE counter SET value = value - 1"
	" WHERE name = 'resources.destroyed'; END;",
	/*
	 * 6: build targets, their artifacts and the bytes of file artifacts.
	 * A target's log is the log table's (a `target` column with its own
	 * index, like the lease's); its commands are the command table's,
	 * with target_kind 4.  A file's bytes are chunks of up to 1 MiB in a
	 * table of their own, so that reading artifacts never reads bytes
	 * and a file is written and read a chunk at a time; a rowid table,
	 * as SQLite keeps large rows best, found by (artifact, pos).  An
	 * artifact's `size` grows with each chunk.  As in 5, what /metrics
	 * shows is counted as it changes, by triggers, since finished
	 * targets and artifacts only accumulate: 'targets.passed', '.failed'
	 * and '.aborted', 'artifacts.TYPE' (a row per type, made by its first
	 * artifact) and 'artifact_bytes' (the sizes, complete or not);
	 * building targets are counted from the status index.  Incomplete
	 * artifacts (uploads under way or cut off) are found by the time of
	 * their last chunk for pruning.
	 */
	"CREATE TABLE target("
	" id INTEGER PRIMARY KEY, name TEXT, owner TEXT,"
	" status INTEGER NOT NULL, deadline REAL, created REAL NOT NULL,"
	" finished REAL, modified REAL NOT NULL);"
	"CREATE INDEX target_by_status ON target(status);"
	"CREATE INDEX target_by_owner ON target(owner);"
	"CREATE TABLE artifact("
	" id INTEGER PRIMARY KEY, target INTEGER NOT NULL, key TEXT NOT NULL,"
	" type TEXT NOT NULL, data TEXT NOT NULL,"
	" released INTEGER NOT NULL DEFAULT 0, complete INTEGER NOT NULL,"
	" size INTEGER NOT NULL DEFAULT 0, sha256 TEXT,"
	" created REAL NOT NULL, modified REAL NOT NULL,"
	" UNIQUE(target, key));"
	"CREATE INDEX artifact_incomplete ON artifact(modified)"
	" WHERE complete = 0;"
	"CREATE TABLE chunk("
	" id INTEGER PRIMARY KEY, artifact INTEGER NOT NULL,"
	" pos INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE UNIQUE INDEX chunk_by_artifact ON chunk(artifact, pos);"
	"ALTER TABLE log ADD COLUMN target INTEGER;"
	"CREATE INDEX log_by_target ON log(target) WHERE target IS NOT NULL;"
	"INSERT INTO counter VALUES('targets.passed', 0), ('targets.failed', 0),"
	" ('targets.aborted', 0), ('artifact_bytes', 0);"
	"CREATE TRIGGER target_finished_insert AFTER INSERT ON target"
	" WHEN NEW.status != 0 BEGIN UPDATE counter SET value = value + 1"
	" WHERE name = 'targets.' || CASE NEW.status WHEN 1 THEN 'passed'"
	" WHEN 2 THEN 'failed' ELSE 'aborted' END; END;"
	"CREATE TRIGGER target_finished_update AFTER UPDATE OF status ON target"
	" WHEN NEW.status != OLD.status BEGIN"
	" UPDATE counter SET value = value - 1 WHERE OLD.status != 0 AND"
	" name = 'targets.' || CASE OLD.status WHEN 1 THEN 'passed'"
	" WHEN 2 THEN 'failed' ELSE 'aborted' END;"
	" UPDATE counter SET value = value + 1 WHERE NEW.status != 0 AND"
	" name = 'targets.' || CASE NEW.status WHEN 1 THEN 'passed'"
	" WHEN 2 THEN 'failed' ELSE 'aborted' END; END;"
	"CREATE TRIGGER target_finished_delete AFTER DELETE ON target"
	" WHEN OLD.status != 0 BEGIN UPDATE counter SET value = value - 1"
	" WHERE name = 'targets.' || CASE OLD.status WHEN 1 THEN 'passed'"
	" WHEN 2 THEN 'failed' ELSE 'aborted' END; END;"
	"CREATE TRIGGER artifact_counted_insert AFTER INSERT ON artifact BEGIN"
	" INSERT INTO counter VALUES('artifacts.' || NEW.type, 1)"
	" ON CONFLICT(name) DO UPDATE SET value = value + 1;"
	" UPDATE counter SET value = value + NEW.size"
	" WHERE name = 'artifact_bytes'; END;"
	"CREATE TRIGGER artifact_counted_size AFTER UPDATE OF size ON artifact"
	" BEGIN UPDATE counter SET value = value + NEW.size - OLD.size"
	" WHERE name = 'artifact_bytes'; END;"
	"CREATE TRIGGER artifact_counted_delete AFTER DELETE ON artifact BEGIN"
	" UPDATE counter SET value = value - 1"
	" WHERE name = 'artifacts.' || OLD.type;"
	" UPDATE counter SET value = value - OLD.size"
	" WHERE name = 'artifact_bytes'; END;",
	/*
	 * 7: an operation in progress on a resource or lease (a hook that
	 * answered "in progress"): its hook, since when, and the object
	 * whose change resumes it, found through the partial indexes
	 */
	"ALTER TABLE resource ADD COLUMN progress_hook TEXT;"
	"ALTER TABLE resource ADD COLUMN progress_since REAL;"
	"ALTER TABLE resource ADD COLUMN resume_on TEXT;"
	"CREATE INDEX resource_resume_on ON resource(resume_on)"
	" WHERE resume_on IS NOT NULL;"
	"ALTER TABLE lease ADD COLUMN progress_hook TEXT;"
	"ALTER TABLE lease ADD COLUMN progress_since REAL;"
	"ALTER TABLE lease ADD COLUMN resume_on TEXT;"
	"CREATE INDEX lease_resume_on ON lease(resume_on)"
	" WHERE resume_on IS NOT NULL;",
	/*
	 * 8: leases by owner, so that an object going away finds the leases
	 * its hooks asked for without reading every live lease
	 */
	"CREATE INDEX lease_by_owner ON lease(owner) WHERE owner IS NOT NULL;",
	/*
	 * 9: a resource can be draining: it keeps its leases and takes no
	 * new one (the "drain" command).
	 */
	"ALTER TABLE resource ADD COLUMN draining INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 10: the machine a resource lives on (core/machine.h), whose
	 * daemons alone claim its tasks and its leases'; NULL: anywhere
	 */
	"ALTER TABLE resource ADD COLUMN machine TEXT;",
	/*
	 * 11: blueprint authorizations, one per (blueprint, requester):
	 * state 0 requested, 1 approved, 2 declined (core/state.h); never
	 * deleted, so an id named in a lease's reason stays valid
	 */
	"CREATE TABLE blueprint_authorization("
	" id INTEGER PRIMARY KEY, blueprint INTEGER NOT NULL,"
	" requester TEXT NOT NULL, state INTEGER NOT NULL, decided_by TEXT,"
	" decided REAL NOT NULL DEFAULT 0, created REAL NOT NULL,"
	" modified REAL NOT NULL, UNIQUE(blueprint, requester));",
};

#define DD_SQLITE_SCHEMA_VERSION                                               \
	((int)(sizeof(dd_sqlite_migrations) / sizeof(dd_sqlite_migrations[0])))

#endif
