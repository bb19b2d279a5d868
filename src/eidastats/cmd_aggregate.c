/*
 * cmd_aggregate.c - `eidastats aggregate`, the drop-in for
 * eida_stats_aggregator: the same flags, the same output file, the same JSON,
 * plus clear errors and exit codes instead of tracebacks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agg.h"
#include "cmd.h"
#include "error.h"
#include "log.h"
#include "http.h"
#include "mem.h"
#include "netx.h"
#include "payload.h"
#include "reader.h"

#define AGG_DEFAULT_REGISTRY NETX_DEFAULT_URL
/* Per-line warnings beyond this many are counted but not printed. */
#define AGG_MAX_WARNINGS 1000
/* File names read from stdin are at most this long. */
#define AGG_NAME_MAX 4096

struct agg_cli {
	const char *outdir;
	const char *token;
	const char *send_to;
	const char *networks;
	enum stats_granularity granularity;
	int progress;           /* stderr is a terminal */
	uint64_t warnings;
	struct timespec t0;
	uint64_t last_lines;
	double last_report;
};

static void agg_usage(FILE *f, const char *prog)
{
	fprintf(f,
	        "usage: %s [-o|--output-directory DIR] [--token T] [--send-to URL]\n"
	        "       %*s [--networks FILE|URL] [--granularity month|day] [--version] [FILE...]\n"
	        "\n"
	        "Aggregates SeisComP fdsnws request logs (bzip2, gzip or plain) into one payload\n"
	        "DIR/FIRST_LAST.json.gz (DIR defaults to /tmp). With no FILE, standard input holds\n"
	        "either log content or file names, one per line. TOKEN defaults to $TOKEN.\n"
	        "Exit status: 0 done, 1 usage or configuration error, 2 input missing, unreadable\n"
	        "or corrupt, 3 no statistics, 4 payload written but --send-to failed.\n",
	        prog, (int)strlen(prog), "");
}

static double agg_elapsed(const struct agg_cli *cli)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - cli->t0.tv_sec) + (t.tv_nsec - cli->t0.tv_nsec) / 1e9;
}

static void agg_on_warn(void *ctx, const char *file, uint64_t lineno, const char *msg)
{
	struct agg_cli *cli = ctx;

	cli->warnings++;
	if (cli->warnings <= AGG_MAX_WARNINGS)
		fprintf(stderr, "%sWARNING %s:%llu: %s\n", cli->progress ? "\r\033[K" : "", file,
		        (unsigned long long)lineno, msg);
	else if (cli->warnings == AGG_MAX_WARNINGS + 1)
		fprintf(stderr, "WARNING more than %d warnings: the rest are only counted\n",
		        AGG_MAX_WARNINGS);
}

static void agg_on_progress(void *ctx, const char *file, uint64_t bytes_in, uint64_t file_size,
                            uint64_t lines)
{
	struct agg_cli *cli = ctx;
	double now = agg_elapsed(cli);

	/* The first report comes at once, so that even a short run shows one. */
	if (!cli->progress || (cli->last_report > 0 && now - cli->last_report < 0.2))
		return;
	double rate = now > cli->last_report ? (lines - cli->last_lines) / (now - cli->last_report) : 0;
	cli->last_report = now;
	cli->last_lines = lines;
	if (file_size > 0)
		fprintf(stderr, "\r\033[K%s: %.1f of %.1f MB (%.0f%%), %.0f lines/s", file,
		        bytes_in / 1e6, file_size / 1e6, 100.0 * bytes_in / file_size, rate);
	else
		fprintf(stderr, "\r\033[K%s: %.1f MB, %.0f lines/s", file, bytes_in / 1e6, rate);
}

/*
 * Decides what standard input holds without consuming it: log content starts
 * with the bzip2 or gzip magic or with '{'; anything else is a list of names.
 * A pipe is peeked with tee(2), a regular file is read and rewound.
 */
static int agg_stdin_is_content(void)
{
	unsigned char b[3] = {0};
	struct stat st;
	ssize_t n = -1;

	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
		n = pread(0, b, sizeof b, lseek(0, 0, SEEK_CUR));
	} else if (fstat(0, &st) == 0 && S_ISFIFO(st.st_mode)) {
		int p[2];
		if (pipe(p) == 0) {
			ssize_t t = tee(0, p[1], sizeof b, 0);
			n = t > 0 ? read(p[0], b, (size_t)t) : t;
			close(p[0]);
			close(p[1]);
		}
	}
	if (n <= 0)
		return 0;
	size_t i = 0;
	while (i < (size_t)n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	if (n >= 3 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h')
		return 1;
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return 1;
	return i < (size_t)n && b[i] == '{';
}

static int agg_input_error(const char *name, int rc)
{
	switch (rc) {
	case ES_ECORRUPT:
		fprintf(stderr, "ERROR %s: corrupt compressed data; no payload written\n", name);
		break;
	case ES_ETRUNC:
		fprintf(stderr, "ERROR %s: truncated compressed data (the stream ends early; is the "
		        "file still being written?); no payload written\n", name);
		break;
	case ES_EUNAVAIL:
		fprintf(stderr, "ERROR %s: the FDSN network registry cannot be reached to extend a "
		        "temporary network code; use --networks FILE with a registry copy; "
		        "no payload written\n", name);
		return EXIT_USAGE;
	case ES_ELIMIT:
		fprintf(stderr, "ERROR %s: too many statistics; no payload written\n", name);
		break;
	default:
		fprintf(stderr, "ERROR %s: %s; no payload written\n", name, es_strerror(rc));
		break;
	}
	return EXIT_INPUT;
}

static int agg_one(agg_t *a, struct agg_cli *cli, const char *path, int fd)
{
	int rc = agg_file(a, path, fd, NULL);
	if (cli->progress)
		fprintf(stderr, "\r\033[K");
	return rc ? agg_input_error(path, rc) : 0;
}

/*
 * Creates dir and its missing parents (mode 0700: the cache is per user).
 * A failure is reported by netx_init(), which cannot open the directory then.
 */
static void agg_mkdirs(const char *dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
	}
	mkdir(p, 0700);
}

static netx_t *agg_open_registry(const char *spec, int *status)
{
	/* The registry tells its problems on stderr, as the CLI's own messages. */
	static const struct es_log to_stderr = { es_log_stderr, "eidastats" };
	netx_opts_t o = { .log = &to_stderr };
	char cache[PATH_MAX];
	netx_t *nx = NULL;
	int rc;

	if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0) {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		o.url = spec;
		if (xdg && *xdg)
			snprintf(cache, sizeof cache, "%s/eidastats/networks", xdg);
		else
			snprintf(cache, sizeof cache, "%s/.cache/eidastats/networks", home ? home : "/tmp");
		o.cache_dir = cache;
		agg_mkdirs(cache);
	} else {
		o.file = spec;
	}
	rc = netx_init(&nx, &o);
	if (rc) {
		fprintf(stderr, "ERROR network registry %s: %s\n", spec, es_strerror(rc));
		*status = EXIT_USAGE;
		return NULL;
	}
	return nx;
}

/* Sends the payload and reports the answer; returns the exit status. */
static int agg_send(const struct agg_cli *cli, const char *json, size_t len)
{
	http_response_t resp;
	int rc = http_post(cli->send_to, cli->token, json, len, 0, 600, &resp);

	if (rc == 0) {
		fprintf(stderr, "INFO Sent to %s: HTTP %ld %s\n", cli->send_to, resp.status,
		        resp.body ? resp.body : "");
	} else if (rc == ES_EHTTP) {
		fprintf(stderr, "ERROR %s answered HTTP %ld: %s\n", cli->send_to, resp.status,
		        resp.body ? resp.body : "(no text)");
	} else {
		fprintf(stderr, "ERROR sending to %s failed: %s\n", cli->send_to,
		        resp.error[0] ? resp.error : es_strerror(rc));
	}
	http_response_fini(&resp);
	return rc ? EXIT_SEND : EXIT_DONE;
}

static void agg_summary(const agg_t *a)
{
	const agg_counts_t *c = agg_counts(a);
	size_t n = agg_nstats(a), types[5] = {0};
	char *refused = agg_refused_summary(a);

	agg_hll_types(a, types);
	fprintf(stderr, "INFO Generated %zu aggregations from %llu events. Aggregation score is %.1f\n",
	        n, (unsigned long long)c->lines, n ? (double)c->lines / (double)n : 0.0);
	fprintf(stderr, "INFO Malformed lines: %llu (not JSON: %llu, bad dates: %llu, invalid "
	        "fields: %llu); refused traces: %llu%s%s%s; lines without a country: %llu\n",
	        (unsigned long long)c->malformed, (unsigned long long)c->json_errors,
	        (unsigned long long)c->bad_dates, (unsigned long long)c->invalid,
	        (unsigned long long)c->refused_traces, refused && *refused ? " (" : "",
	        refused ? refused : "", refused && *refused ? ")" : "",
	        (unsigned long long)c->missing_country);
	fprintf(stderr, "INFO Clients sets: %zu EXPLICIT, %zu SPARSE, %zu FULL\n",
	        types[2], types[3], types[4]);
	free(refused);
}

static int agg_run(struct agg_cli *cli, char **files, int nfiles)
{
	char outdir[PATH_MAX], outpath[PATH_MAX + 32], first[11], last[11];
	time_t generated_at = time(NULL);
	netx_t *nx = NULL;
	agg_t *a = NULL;
	char *json = NULL;
	size_t len = 0;
	int status = EXIT_DONE, rc;
	struct stat st;

	if (!realpath(cli->outdir, outdir) || stat(outdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "ERROR output directory %s: %s\n", cli->outdir,
		        errno ? strerror(errno) : "not a directory");
		return EXIT_USAGE;
	}
	nx = agg_open_registry(cli->networks, &status);
	if (!nx)
		return status;
	agg_opts_t o = {
		.granularity = cli->granularity,
		.netx = nx,
		.warn = agg_on_warn,
		.progress = agg_on_progress,
		.ctx = cli,
	};
	a = agg_new(&o);
	clock_gettime(CLOCK_MONOTONIC, &cli->t0);

	if (nfiles > 0) {
		for (int i = 0; i < nfiles && status == EXIT_DONE; i++)
			status = agg_one(a, cli, files[i], -1);
	} else if (isatty(0)) {
		fprintf(stderr, "ERROR no input: give log files as arguments, or their names or "
		        "content on standard input\n");
		status = EXIT_USAGE;
	} else if (agg_stdin_is_content()) {
		status = agg_one(a, cli, "<stdin>", dup(0));
	} else {
		char name[AGG_NAME_MAX + 2];
		while (status == EXIT_DONE && fgets(name, sizeof name, stdin)) {
			size_t l = strcspn(name, "\r\n");
			if (l > AGG_NAME_MAX) {
				fprintf(stderr, "ERROR a file name on standard input is longer than %d "
				        "bytes\n", AGG_NAME_MAX);
				status = EXIT_USAGE;
				break;
			}
			name[l] = '\0';
			if (l > 0)
				status = agg_one(a, cli, name, -1);
		}
	}
	if (status != EXIT_DONE)
		goto out;

	/* Without --send-to the payload is streamed into its file, never held whole. */
	if (cli->send_to)
		rc = agg_payload(a, generated_at, "eidastats-" PACKAGE_VERSION, &json, &len);
	else
		rc = agg_payload_ready(a);
	if (rc == ES_ENOSTATS) {
		const agg_counts_t *c = agg_counts(a);
		fprintf(stderr, "ERROR no statistics: %llu lines read, %llu malformed, nothing to "
		        "count; no payload written\n", (unsigned long long)c->lines,
		        (unsigned long long)c->malformed);
		status = EXIT_NOSTATS;
		goto out;
	} else if (rc) {
		fprintf(stderr, "ERROR making the payload: %s\n", es_strerror(rc));
		status = EXIT_INPUT;
		goto out;
	}
	agg_summary(a);
	agg_coverage(a, first, last);
	snprintf(outpath, sizeof outpath, "%s/%s_%s.json.gz", outdir, first, last);
	if (json)
		rc = payload_write_gz(outpath, json, len);
	else
		rc = agg_write_payload_gz(a, generated_at, "eidastats-" PACKAGE_VERSION, outpath);
	if (rc) {
		fprintf(stderr, "ERROR writing %s: %s\n", outpath, es_strerror(rc));
		status = EXIT_USAGE;
		goto out;
	}
	fprintf(stderr, "INFO Statistics stored to %s\n", outpath);
	if (cli->send_to)
		status = agg_send(cli, json, len);
out:
	free(json);
	agg_free(a);
	netx_fini(nx);
	return status;
}

int cmd_aggregate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output-directory", required_argument, NULL, 'o'},
		{"token", required_argument, NULL, 't'},
		{"send-to", required_argument, NULL, 's'},
		{"networks", required_argument, NULL, 'n'},
		{"granularity", required_argument, NULL, 'g'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *prog = strcmp(argv[0], "aggregate") == 0 ? "eidastats aggregate" : argv[0];
	struct agg_cli cli = {
		.outdir = "/tmp",
		.token = getenv("TOKEN") ? getenv("TOKEN") : "",
		.networks = AGG_DEFAULT_REGISTRY,
		.granularity = STATS_MONTH,
		.progress = isatty(2),
	};
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': cli.outdir = optarg; break;
		case 't': cli.token = optarg; break;
		case 's': cli.send_to = optarg; break;
		case 'n': cli.networks = optarg; break;
		case 'g':
			if (strcmp(optarg, "month") == 0) {
				cli.granularity = STATS_MONTH;
			} else if (strcmp(optarg, "day") == 0) {
				cli.granularity = STATS_DAY;
			} else {
				fprintf(stderr, "ERROR --granularity must be month or day, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'V':
			printf("%s\n", PACKAGE_VERSION);
			return EXIT_DONE;
		case 'h':
			agg_usage(stdout, prog);
			return EXIT_DONE;
		default:
			agg_usage(stderr, prog);
			return EXIT_USAGE;
		}
	}
	if (cli.send_to && cli.granularity == STATS_DAY)
		fprintf(stderr, "WARNING --granularity day: only eidastats-ingestd accepts day rows; "
		        "the EIDA central service needs month rows\n");
	for (int i = optind; i < argc; i++) {
		if (access(argv[i], F_OK) != 0) {
			fprintf(stderr, "ERROR %s: %s\n", argv[i], strerror(errno));
			return EXIT_INPUT;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	status = agg_run(&cli, argv + optind, argc - optind);
	curl_global_cleanup();
	return status;
}
