/*
 * test_daemon_work.c - the daemon's file checks and state-directory helpers
 * (src/eidastatsd/work.c), the watcher's clock rule (watch.c) and the held
 * ledger records (daemon.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "unit.h"
#include "eidastatsd/daemon.h"
#include "eidastatsd/watch.h"
#include "eidastatsd/work.h"

TEST(daemon_work_check_regular)
{
	struct stat st;
	int fd;

	unit_write(unit_tmp("f"), "x", 1);
	fd = open(unit_tmp("f"), O_RDONLY);
	ASSERT(fd >= 0);
	ASSERT_OK(work_check_regular(fd, &st));
	ASSERT_EQ(st.st_size, 1);
	close(fd);

	fd = open(unit_tmpdir(), O_RDONLY | O_DIRECTORY);
	ASSERT(fd >= 0);
	ASSERT_ERR(work_check_regular(fd, &st), -EINVAL);
	close(fd);

	/* A failed fstat() reports its errno, whatever st held before. */
	memset(&st, 0, sizeof st);
	st.st_mode = S_IFDIR;
	ASSERT_ERR(work_check_regular(fd, &st), -EBADF);
	st.st_mode = S_IFREG;
	ASSERT_ERR(work_check_regular(-1, &st), -EBADF);
}

TEST(work_decoders_share_the_cpus_with_the_workers)
{
	ASSERT_EQ(work_decoders(1, 2), 2);
	ASSERT_EQ(work_decoders(2, 2), 1);
	ASSERT_EQ(work_decoders(4, 2), 1);
	ASSERT_EQ(work_decoders(2, 8), 4);
	ASSERT_EQ(work_decoders(3, 8), 2);
	ASSERT_EQ(work_decoders(0, 8), 1);
	ASSERT_EQ(work_decoders(1, 0), 1);
	ASSERT_EQ(work_decoders(1, -1), 1);
}

TEST(work_state_unwritable_errors_wait)
{
	ASSERT_EQ(work_state_unwritable(-ENOSPC), 1);
	ASSERT_EQ(work_state_unwritable(-EDQUOT), 1);
	ASSERT_EQ(work_state_unwritable(-EROFS), 1);
	ASSERT_EQ(work_state_unwritable(-EIO), 1);
	ASSERT_EQ(work_state_unwritable(-EACCES), 0);
	ASSERT_EQ(work_state_unwritable(ES_ELIMIT), 0);
	ASSERT_EQ(work_state_unwritable(0), 0);
}

TEST(work_probe_state_leaves_nothing)
{
	char path[4200];
	struct stat st;

	ASSERT_OK(work_probe_state(unit_tmpdir()));
	snprintf(path, sizeof path, "%s/.write-probe", unit_tmpdir());
	ASSERT(stat(path, &st) != 0 && errno == ENOENT);
	snprintf(path, sizeof path, "%s/missing", unit_tmpdir());
	ASSERT_ERR(work_probe_state(path), -ENOENT);
}

TEST(watch_unchanged_trusts_mtimes_only_without_a_jump)
{
	/* Monotonic ms now 1000000, wall ms now 5000000 (offset 4000000). */
	const int64_t now = 1000000, wall = 5000000, off = wall - now;

	/* Seen 3 s ago, mtime 10 s ago, no jump: the mtime shows 10 s. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off, wall - 10000, now, wall), 10000);
	/* An mtime younger than the sighting: our sighting counts. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off, wall - 1000, now, wall), 3000);
	/* An mtime in the future (the clock went back): the sighting counts. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off, wall + 86400000, now, wall), 3000);
	/* No mtime. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off, 0, now, wall), 3000);
	/* The wall clock jumped a day forward since the sighting: the file
	 * looks a day old by its mtime, but only 3 s are proven. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off - 86400000, wall - 86400000, now, wall), 3000);
	/* ... and a day back. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off + 86400000, wall - 10000, now, wall), 3000);
	/* A step within WATCH_WALL_JUMP_MS is not a jump. */
	ASSERT_EQ(watch_unchanged_ms(now - 3000, off - WATCH_WALL_JUMP_MS, wall - 10000, now, wall),
	          10000);
}

TEST(daemon_held_records_wait_for_the_ledger)
{
	esd_t d;
	ledger_rec_t rec, got;

	memset(&d, 0, sizeof d);
	pthread_mutex_init(&d.commit_lock, NULL);
	pthread_mutex_init(&d.held_lock, NULL);
	ASSERT_OK(ledger_init(&d.ledger, unit_tmpdir()));
	memset(&rec, 0, sizeof rec);
	memset(rec.digest, 0xab, sizeof rec.digest);
	rec.payload_id = 7;
	rec.status = LEDGER_DONE;
	snprintf(rec.name, sizeof rec.name, "fdsnws-requests.log.2024-10-30.bz2");

	ASSERT_EQ(esd_payload_is_held(&d, 7), 0);
	esd_held_add(&d, &rec);
	rec.payload_id = 8;
	rec.digest[0] = 1;
	esd_held_add(&d, &rec);
	ASSERT_EQ(esd_payload_is_held(&d, 7), 1);
	ASSERT_EQ(esd_payload_is_held(&d, 8), 1);
	esd_held_drop(&d, 8);
	ASSERT_EQ(esd_payload_is_held(&d, 8), 0);
	ASSERT_EQ(ledger_count(d.ledger), 0);
	/* The flush writes what is held, once. */
	ASSERT_OK(esd_held_flush(&d));
	ASSERT_EQ(esd_payload_is_held(&d, 7), 0);
	ASSERT_EQ(ledger_count(d.ledger), 1);
	memset(rec.digest, 0xab, sizeof rec.digest);
	ASSERT_EQ(ledger_find_digest(d.ledger, rec.digest, &got), 1);
	ASSERT_EQ(got.payload_id, 7);
	ASSERT_OK(esd_held_flush(&d));
	ASSERT_EQ(ledger_count(d.ledger), 1);
	/* A record the ledger has already got is not written again. */
	rec.payload_id = 7;
	esd_held_add(&d, &rec);
	ASSERT_OK(esd_held_flush(&d));
	ASSERT_EQ(ledger_count(d.ledger), 1);
	ledger_fini(d.ledger);
	free(d.held);
	pthread_mutex_destroy(&d.commit_lock);
	pthread_mutex_destroy(&d.held_lock);
}
