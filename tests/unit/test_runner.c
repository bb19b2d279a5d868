/*
 * test_runner.c - the runner itself: each test's temporary directory is
 * removed afterwards, whatever its contents and whatever its path.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

/* Leaves a tree behind for the runner to remove: nested directories, a file
 * without permissions and names with quotes and spaces. */
TEST(runner_leaves_a_tree)
{
	ASSERT(mkdir(unit_tmp("a"), 0700) == 0);
	ASSERT(mkdir(unit_tmp("a/b c"), 0700) == 0);
	unit_write(unit_tmp("a/b c/it's"), "x", 1);
	unit_write(unit_tmp("a/locked"), "y", 1);
	ASSERT(chmod(unit_tmp("a/locked"), 0) == 0);
	unit_write(unit_tmp("top"), "z", 1);
}

/* Runs runner_leaves_a_tree in a second runner whose TMPDIR has a quote in
 * its name, then requires that TMPDIR to be empty again. */
TEST(runner_removes_the_tmpdir_tree)
{
	char self[4096];
	const char *base = unit_tmp("it's here");
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int status, entries = 0;
	struct dirent *de;
	DIR *dir;
	pid_t pid;

	ASSERT(n > 0);
	self[n] = '\0';
	ASSERT(mkdir(base, 0700) == 0);
	fflush(stdout);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		setenv("TMPDIR", base, 1);
		execl(self, self, "runner_leaves_a_tree", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		ASSERT(errno == EINTR);
	ASSERT(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	dir = opendir(base);
	ASSERT(dir != NULL);
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			printf("# left behind: %s/%s\n", base, de->d_name);
			entries++;
		}
	closedir(dir);
	ASSERT_EQ(entries, 0);
}
