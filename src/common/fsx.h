/*
 * fsx.h - durable file writing shared by the modules that keep state on disk
 * (payload files, the registry cache, the spool and its high-water mark).
 *
 * fsx_replace() is the one way a file is (re)written durably: a temporary
 * file in the same directory is filled, fsync()ed and renamed over the
 * target, then the directory is fsync()ed, so a crash leaves either the old
 * file or the new one, never a torn one.  Nothing here allocates anything
 * the caller must free.
 */
#ifndef ES_FSX_H
#define ES_FSX_H

#include <stddef.h>
#include <sys/types.h>

/* Bytes of fsx_safe_name's longest output for a name of n bytes ("_", 2 hex digits per byte, NUL). */
#define FSX_SAFE_NAME_MAX(n) (2 * (size_t)(n) + 2)

/*
 * The file-name form of a name from the database (a node, a network): the
 * name itself when it matches [A-Za-z0-9_.-]+ and does not start with '.',
 * else '_' followed by the lowercase hex of its bytes, so that no name can
 * climb out of its directory or hide.  eidastats-report writes its files under
 * it and eidastats-ingestd finds a node's files by it.  0, or ES_ELIMIT when
 * it does not fit in cap bytes.
 */
int fsx_safe_name(const char *name, char *out, size_t cap);

/* Writes all len bytes, retrying on EINTR and short writes. 0 or -errno. */
int fsx_write_all(int fd, const void *buf, size_t len);

/* fsync()s the directory dir (its entries: creations, renames, unlinks). 0 or -errno. */
int fsx_fsync_dir(const char *dir);

/* Fills an open temporary file; returns 0 or a negative code, which fsx_replace returns. */
typedef int (*fsx_fill_fn)(int fd, void *ctx);

/*
 * Atomically replaces path with what fill writes (mode applied exactly,
 * whatever the umask).  Returns 0, -errno, or fill's error; on error the
 * temporary file is removed and path is untouched.
 */
int fsx_replace(const char *path, mode_t mode, fsx_fill_fn fill, void *ctx);

/* fsx_replace() with a buffer as the content. */
int fsx_replace_buf(const char *path, mode_t mode, const void *buf, size_t len);

/*
 * fsx_replace() for a module that holds its directory open (dirfd): the
 * temporary file is dirfd/tmp, a fixed name the caller removes at start-up
 * should a crash leave it (created afresh, never following a symbolic
 * link), renamed to dirfd/name, then dirfd is fsync()ed.  On error tmp is
 * removed; name may then exist when only the final fsync() failed.
 */
int fsx_replace_at(int dirfd, const char *tmp, const char *name, mode_t mode,
                   fsx_fill_fn fill, void *ctx);
/* fsx_replace_at() with a buffer as the content. */
int fsx_replace_buf_at(int dirfd, const char *tmp, const char *name, mode_t mode,
                       const void *buf, size_t len);

#endif
