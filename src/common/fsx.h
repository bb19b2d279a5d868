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
