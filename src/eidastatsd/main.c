/*
 * main.c - eidastatsd: options and wiring only.
 *
 *   eidastatsd [-c FILE] [--foreground] [--check-config] [--verbose]
 *
 * Exit status: 0 after a clean stop or a valid --check-config; 1 for usage
 * and configuration errors; 2 when start-up fails for another reason
 * (state directory, control socket in use, ...).
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "error.h"
#include "mem.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: eidastatsd [-c FILE] [--foreground] [--check-config] [--verbose]\n"
	        "  -c, --config FILE   configuration (default %s)\n"
	        "  -f, --foreground    stay attached to the terminal (systemd runs it so)\n"
	        "  -t, --check-config  validate the configuration and the token file, then exit\n"
	        "  -v, --verbose       also log debug lines\n"
	        "  -V, --version       print the version\n",
	        CFG_DEFAULT_PATH);
}

/*
 * Detaches in the classic way (fork, setsid, fork), but the first process
 * waits until the daemon reports through a pipe: "READY" after a good
 * start-up, else its error lines, which it shows on stderr before exiting 2.
 * Returns in the daemon only, with the pipe's write end in *report_fd.
 */
static int detach(int *report_fd)
{
	int p[2], fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char buf[4096];
		size_t len = 0;
		ssize_t n;

		close(p[1]);
		while ((n = read(p[0], buf + len, sizeof buf - 1 - len)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			len += (size_t)n;
			if (len == sizeof buf - 1)
				break;
		}
		buf[len] = '\0';
		waitpid(pid, NULL, 0);
		if (len >= 6 && strcmp(buf + len - 6, "READY\n") == 0) {
			fwrite(buf, 1, len - 6, stderr);
			_exit(0);
		}
		if (len)
			fputs(buf, stderr);
		else
			fputs("eidastatsd: start-up failed: the daemon ended without saying why\n", stderr);
		_exit(2);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	*report_fd = p[1];
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = CFG_DEFAULT_PATH;
	int foreground = 0, check = 0, verbose = 0, opt, rc, report_fd = -1;
	char err[1024];
	esd_t d;
	uv_loop_t loop;

	while ((opt = getopt_long(argc, argv, "c:ftvVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 't': check = 1; break;
		case 'v': verbose = 1; break;
		case 'V': printf("eidastatsd %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "eidastatsd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	memset(&d, 0, sizeof d);
	d.lock_fd = -1;
	err[0] = '\0';
	rc = cfg_load(&d.cfg, path, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "eidastatsd: %s\n", err[0] ? err : es_strerror(rc));
		return 1;
	}
	if (d.cfg.central.url) {
		rc = cfg_read_token(d.cfg.central.token_file, &d.token, err, sizeof err);
		if (rc < 0) {
			if (err[0])
				fprintf(stderr, "eidastatsd: %s\n", err);
			else
				fprintf(stderr, "eidastatsd: %s: %s\n", d.cfg.central.token_file, es_strerror(rc));
			cfg_fini(&d.cfg);
			return 1;
		}
	}
	if (check) {
		printf("%s: configuration valid\n", path);
		if (d.token)
			explicit_bzero(d.token, strlen(d.token));
		free(d.token);
		cfg_fini(&d.cfg);
		return 0;
	}
	if (!foreground && detach(&report_fd) != 0) {
		/* stderr may be /dev/null already; the parent then says it failed. */
		perror("eidastatsd: cannot detach");
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	/* Room for the file workers plus a scan and the sender's spool steps
	 * (a reload may lower `workers`, raising it needs a restart). */
	if (!getenv("UV_THREADPOOL_SIZE")) {
		char n[16];
		snprintf(n, sizeof n, "%d", d.cfg.workers + 3);
		setenv("UV_THREADPOOL_SIZE", n, 1);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sdlog_init(&d.log, !foreground, verbose);
	if (report_fd >= 0)
		sdlog_relay_start(&d.log, report_fd);
	rc = uv_loop_init(&loop);
	if (rc < 0) {
		sdlog(&d.log, LOG_ERR, NULL, 0, "start-up failed: cannot create the event loop: %s",
		      uv_strerror(rc));
		sdlog_fini(&d.log);
		cfg_fini(&d.cfg);
		if (d.token)
			explicit_bzero(d.token, strlen(d.token));
		free(d.token);
		curl_global_cleanup();
		return 2;
	}
	d.cfg_path = es_strdup(path);
	d.loop = &loop;

	rc = esd_start(&d);
	if (rc < 0) {
		sdlog(&d.log, LOG_ERR, NULL, 0, "start-up failed: %s", es_strerror(rc));
		d.exit_code = 2;
		esd_stop(&d);
	}
	/* The waiting parent exits now: 0 after READY, 2 with the errors above. */
	sdlog_relay_end(&d.log, rc == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	esd_fini(&d);
	rc = uv_loop_close(&loop);
	if (rc < 0)
		sdlog(&d.log, LOG_WARNING, NULL, 0, "event loop closed with handles left: %s", uv_strerror(rc));
	sdlog(&d.log, LOG_INFO, NULL, 0, "stopped");
	sdlog_fini(&d.log);
	cfg_fini(&d.cfg);
	free(d.cfg_path);
	curl_global_cleanup();
	return d.exit_code;
}
