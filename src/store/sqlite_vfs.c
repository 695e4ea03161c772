/*
 * sqlite_vfs.c - the system's VFS, with a commit's WAL frames written in
 * one call (see sqlite_vfs.h for why).
 *
 * A database or WAL file opened through this VFS is a `struct vfile`
 * wrapping the system VFS's own file, which sits right after it in the
 * memory SQLite allocates (szOsFile covers both).  Every method forwards
 * to the wrapped file; a WAL's writes are gathered first, and everything
 * else that touches the WAL, or the shared memory through which other
 * connections learn of a commit, writes what is gathered before it goes
 * on.  A WAL finds its database's file with sqlite3_database_file_object()
 * when it is opened, so that the database's shared-memory methods can
 * reach the frames gathered on the same connection.
 */
#include "store/sqlite_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WAL_FRAME_HEADER 24
/*
 * A longer run is written in parts: the system VFS writes at most 128 KiB
 * less one byte per call (it masks the length with 0x1ffff).
 */
#define GATHER_MAX 0x1ffff
#define GATHER_MIN (32 << 10) /* the first buffer; it grows to GATHER_MAX */

struct vfile {
	sqlite3_file base;    /* methods: `methods` below */
	sqlite3_file *real;   /* the system VFS's file, right after this */
	bool is_wal;
	struct vfile *wal;    /* a database: its WAL, while open */
	struct vfile *db;     /* a WAL: its database, while open */
	/* a WAL: the run of bytes gathered for offset `start` on */
	unsigned char *buf;
	size_t len, cap;
	sqlite3_int64 start;
	bool commit_next;     /* the last write was a commit frame's header */
	int lost;	      /* a gathered run failed to be written where the
				 failure could not be reported: every later
				 use of the WAL fails with this */
};

#define VFILE_SIZE ((sizeof(struct vfile) + 7) & ~(size_t)7)

static sqlite3_vfs *sys;
static atomic_llong wal_writes;
static atomic_llong reads;
static atomic_bool fail_late;
/* dd_sqlite_vfs_fail_commits(): commits to let through, then to fail */
static atomic_int commits_to_pass, commits_to_fail, commit_fault;

static int gathered_write(struct vfile *v)
{
	int rc;

	if (!v->len)
		return SQLITE_OK;
	rc = v->real->pMethods->xWrite(v->real, v->buf, (int)v->len,
				       v->start);
	atomic_fetch_add(&wal_writes, 1);
	v->len = 0;
	return rc;
}

/*
 * Write what a database's WAL has gathered, if it has one open: a late
 * write, whose failure SQLite cannot hear of, so it marks the WAL lost.
 */
static int db_wal_write(struct vfile *v)
{
	struct vfile *wal = v->wal;
	int rc;

	if (!wal || !wal->len)
		return SQLITE_OK;
	rc = atomic_load(&fail_late) ? SQLITE_IOERR_WRITE : gathered_write(wal);
	wal->len = 0;
	if (rc && !wal->lost)
		wal->lost = rc;
	return rc;
}

static int gather(struct vfile *v, const void *data, int amt,
		  sqlite3_int64 off)
{
	size_t n = (size_t)amt;
	int rc;

	if (v->len && (off != v->start + (sqlite3_int64)v->len ||
		       v->len + n > GATHER_MAX)) {
		rc = gathered_write(v);
		if (rc)
			return rc;
	}
	if (v->len + n > v->cap) {
		size_t cap = v->cap ? v->cap : GATHER_MIN;
		unsigned char *buf;

		while (cap < v->len + n)
			cap *= 2;
		if (cap > GATHER_MAX)
			cap = GATHER_MAX;
		buf = n <= GATHER_MAX ? realloc(v->buf, cap) : NULL;
		if (!buf) {
			/* too big or no memory: write it as it comes */
			rc = gathered_write(v);
			if (!rc) {
				rc = v->real->pMethods->xWrite(v->real, data,
							       amt, off);
				atomic_fetch_add(&wal_writes, 1);
			}
			return rc;
		}
		v->buf = buf;
		v->cap = cap;
	}
	if (!v->len)
		v->start = off;
	memcpy(v->buf + v->len, data, n);
	v->len += n;
	return SQLITE_OK;
}

/*
 * A frame header holds, in bytes 4 to 7, the database's size after the
 * commit for a commit frame and zero for any other; SQLite writes the
 * header and then the page.  The page of a commit frame ends the commit's
 * frames: write the run then, so that the commit reports a failed write.
 */
/* Should this commit's write fail (dd_sqlite_vfs_fail_commits)? */
static int injected_commit_fault(void)
{
	int n = atomic_load(&commits_to_pass);

	while (n > 0)
		if (atomic_compare_exchange_weak(&commits_to_pass, &n, n - 1))
			return SQLITE_OK;
	n = atomic_load(&commits_to_fail);
	while (n > 0)
		if (atomic_compare_exchange_weak(&commits_to_fail, &n, n - 1))
			return atomic_load(&commit_fault);
	return SQLITE_OK;
}

static int wal_write(struct vfile *v, const void *data, int amt,
		     sqlite3_int64 off)
{
	const unsigned char *h = data;
	bool ends_commit = v->commit_next;
	int rc;

	v->commit_next = amt == WAL_FRAME_HEADER && (h[4] | h[5] | h[6] | h[7]);
	if (ends_commit && (atomic_load(&commits_to_pass) ||
			    atomic_load(&commits_to_fail))) {
		rc = injected_commit_fault();
		if (rc) {
			v->len = 0; /* none of the commit reached the file */
			return rc;
		}
	}
	rc = gather(v, data, amt, off);
	if (!rc && ends_commit)
		rc = gathered_write(v);
	return rc;
}

/* ---- io methods: forward, writing a WAL's gathered run first ---------- */

#define V(f) ((struct vfile *)(f))
#define R(f) (V(f)->real)
#define WAL_FIRST(f)                                                           \
	do {                                                                   \
		if (V(f)->is_wal) {                                            \
			int wrc_ = V(f)->lost ? V(f)->lost                     \
					      : gathered_write(V(f));          \
			if (wrc_)                                              \
				return wrc_;                                   \
		}                                                              \
	} while (0)

static int vf_close(sqlite3_file *f)
{
	struct vfile *v = V(f);
	int rc = SQLITE_OK, crc;

	if (v->is_wal) {
		rc = gathered_write(v);
		if (v->db)
			v->db->wal = NULL;
		free(v->buf);
	} else if (v->wal) {
		v->wal->db = NULL;
	}
	crc = v->real->pMethods->xClose(v->real);
	return rc ? rc : crc;
}

static int vf_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	WAL_FIRST(f);
	atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
	return R(f)->pMethods->xRead(R(f), buf, amt, off);
}

static int vf_write(sqlite3_file *f, const void *buf, int amt,
		    sqlite3_int64 off)
{
	if (V(f)->is_wal)
		return V(f)->lost ? V(f)->lost : wal_write(V(f), buf, amt, off);
	return R(f)->pMethods->xWrite(R(f), buf, amt, off);
}

static int vf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	WAL_FIRST(f);
	return R(f)->pMethods->xTruncate(R(f), size);
}

static int vf_sync(sqlite3_file *f, int flags)
{
	WAL_FIRST(f);
	return R(f)->pMethods->xSync(R(f), flags);
}

static int vf_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	WAL_FIRST(f);
	return R(f)->pMethods->xFileSize(R(f), size);
}

static int vf_lock(sqlite3_file *f, int level)
{
	return R(f)->pMethods->xLock(R(f), level);
}

static int vf_unlock(sqlite3_file *f, int level)
{
	return R(f)->pMethods->xUnlock(R(f), level);
}

static int vf_check_reserved(sqlite3_file *f, int *out)
{
	return R(f)->pMethods->xCheckReservedLock(R(f), out);
}

static int vf_file_control(sqlite3_file *f, int op, void *arg)
{
	WAL_FIRST(f);
	return R(f)->pMethods->xFileControl(R(f), op, arg);
}

static int vf_sector_size(sqlite3_file *f)
{
	return R(f)->pMethods->xSectorSize(R(f));
}

static int vf_device_characteristics(sqlite3_file *f)
{
	return R(f)->pMethods->xDeviceCharacteristics(R(f));
}

static int vf_shm_map(sqlite3_file *f, int page, int size, int extend,
		      void volatile **out)
{
	return R(f)->pMethods->xShmMap(R(f), page, size, extend, out);
}

/*
 * Shared-memory locks and barriers are how a commit becomes visible to
 * other connections and how a writer lets the next one in: the frames
 * must be in the file before either.  A commit normally leaves nothing
 * gathered (wal_write); this covers any other pattern of writes.
 */
static int vf_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	int rc = db_wal_write(V(f));

	/* an unlock must still happen */
	if (rc && !(flags & SQLITE_SHM_UNLOCK))
		return rc;
	return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
}

static void vf_shm_barrier(sqlite3_file *f)
{
	/* no way to report a failure here: dd_sqlite_vfs_lost() will */
	db_wal_write(V(f));
	R(f)->pMethods->xShmBarrier(R(f));
}

static int vf_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return R(f)->pMethods->xShmUnmap(R(f), delete_flag);
}

static int vf_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	WAL_FIRST(f);
	return R(f)->pMethods->xFetch(R(f), off, amt, pp);
}

static int vf_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return R(f)->pMethods->xUnfetch(R(f), off, p);
}

static const sqlite3_io_methods methods = {
	.iVersion = 3,
	.xClose = vf_close,
	.xRead = vf_read,
	.xWrite = vf_write,
	.xTruncate = vf_truncate,
	.xSync = vf_sync,
	.xFileSize = vf_file_size,
	.xLock = vf_lock,
	.xUnlock = vf_unlock,
	.xCheckReservedLock = vf_check_reserved,
	.xFileControl = vf_file_control,
	.xSectorSize = vf_sector_size,
	.xDeviceCharacteristics = vf_device_characteristics,
	.xShmMap = vf_shm_map,
	.xShmLock = vf_shm_lock,
	.xShmBarrier = vf_shm_barrier,
	.xShmUnmap = vf_shm_unmap,
	.xFetch = vf_fetch,
	.xUnfetch = vf_unfetch,
};

/* ---- the VFS: databases and WALs wrapped, the rest forwarded ---------- */

static int vfs_open(sqlite3_vfs *self, sqlite3_filename name,
		    sqlite3_file *f, int flags, int *out_flags)
{
	struct vfile *v = V(f);
	sqlite3_file *db;
	int rc;

	(void)self;
	if (!(flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)))
		return sys->xOpen(sys, name, f, flags, out_flags);
	memset(v, 0, sizeof(*v));
	v->real = (sqlite3_file *)((char *)f + VFILE_SIZE);
	v->is_wal = flags & SQLITE_OPEN_WAL;
	rc = sys->xOpen(sys, name, v->real, flags, out_flags);
	/* SQLite closes a file whose methods are set even if xOpen failed */
	v->base.pMethods = v->real->pMethods ? &methods : NULL;
	if (rc == SQLITE_OK && v->is_wal && name) {
		db = sqlite3_database_file_object(name);
		if (db && db->pMethods == &methods) {
			v->db = V(db);
			v->db->wal = v;
		}
	}
	return rc;
}

static int vfs_delete(sqlite3_vfs *self, const char *name, int sync_dir)
{
	(void)self;
	return sys->xDelete(sys, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *self, const char *name, int flags,
		      int *out)
{
	(void)self;
	return sys->xAccess(sys, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *self, const char *name, int n,
			     char *out)
{
	(void)self;
	return sys->xFullPathname(sys, name, n, out);
}

static void *vfs_dl_open(sqlite3_vfs *self, const char *name)
{
	(void)self;
	return sys->xDlOpen(sys, name);
}

static void vfs_dl_error(sqlite3_vfs *self, int n, char *msg)
{
	(void)self;
	sys->xDlError(sys, n, msg);
}

static void (*vfs_dl_sym(sqlite3_vfs *self, void *lib, const char *sym))(void)
{
	(void)self;
	return sys->xDlSym(sys, lib, sym);
}

static void vfs_dl_close(sqlite3_vfs *self, void *lib)
{
	(void)self;
	sys->xDlClose(sys, lib);
}

static int vfs_randomness(sqlite3_vfs *self, int n, char *out)
{
	(void)self;
	return sys->xRandomness(sys, n, out);
}

static int vfs_sleep(sqlite3_vfs *self, int us)
{
	(void)self;
	return sys->xSleep(sys, us);
}

static int vfs_current_time(sqlite3_vfs *self, double *out)
{
	(void)self;
	return sys->xCurrentTime(sys, out);
}

static int vfs_last_error(sqlite3_vfs *self, int n, char *msg)
{
	(void)self;
	return sys->xGetLastError(sys, n, msg);
}

static int vfs_current_time64(sqlite3_vfs *self, sqlite3_int64 *out)
{
	(void)self;
	return sys->xCurrentTimeInt64(sys, out);
}

static sqlite3_vfs vfs = {
	.iVersion = 2,
	.zName = "drydock",
	.xOpen = vfs_open,
	.xDelete = vfs_delete,
	.xAccess = vfs_access,
	.xFullPathname = vfs_full_pathname,
	.xDlOpen = vfs_dl_open,
	.xDlError = vfs_dl_error,
	.xDlSym = vfs_dl_sym,
	.xDlClose = vfs_dl_close,
	.xRandomness = vfs_randomness,
	.xSleep = vfs_sleep,
	.xCurrentTime = vfs_current_time,
	.xGetLastError = vfs_last_error,
	.xCurrentTimeInt64 = vfs_current_time64,
};

static const char *registered;

static void vfs_register(void)
{
	sys = sqlite3_vfs_find(NULL);
	/* the shared-memory methods and xCurrentTimeInt64 are needed */
	if (!sys || sys->iVersion < 2)
		return;
	vfs.szOsFile = (int)VFILE_SIZE + sys->szOsFile;
	vfs.mxPathname = sys->mxPathname;
	if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
		registered = vfs.zName;
}

const char *dd_sqlite_vfs_register(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vfs_register);
	return registered;
}

long long dd_sqlite_vfs_wal_writes(void)
{
	return atomic_load(&wal_writes);
}

long long dd_sqlite_vfs_reads(void)
{
	return atomic_load(&reads);
}

int dd_sqlite_vfs_lost(sqlite3 *db)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) ||
	    !f || f->pMethods != &methods || !V(f)->wal)
		return 0;
	return V(f)->wal->lost;
}

void dd_sqlite_vfs_fail_late_writes(bool fail)
{
	atomic_store(&fail_late, fail);
}

void dd_sqlite_vfs_fail_commits(int after, int count, int code)
{
	atomic_store(&commit_fault, code);
	atomic_store(&commits_to_fail, count);
	atomic_store(&commits_to_pass, after);
}
