/*
 * test_daemon_work.c - the daemon's file checks (src/eidastatsd/work.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
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
