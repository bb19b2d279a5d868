/*
 * cmd_hll.c - `eidastats hll add|union|inspect`: build, merge and look into
 * the HLL payloads that the aggregator writes, from the command line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "error.h"
#include "hll.h"

/* Longest stdin token read: a signed 64-bit integer has at most 20 characters. */
#define HLL_TOKEN_MAX 64
/* How much of a bad argument an error message quotes. */
#define HLL_QUOTE_MAX 40

static void hll_usage(FILE *f)
{
	fprintf(f,
	        "usage: eidastats hll add [RAW...|-]\n"
	        "       eidastats hll union HEX...\n"
	        "       eidastats hll inspect HEX...\n"
	        "\n"
	        "HyperLogLog(11,5) sets as the aggregator writes them in its \"clients\" field.\n"
	        "  add      adds signed 64-bit raw values (arguments, or whitespace-separated\n"
	        "           on stdin for -) to an empty set and prints it as \\x + upper-case hex\n"
	        "  union    prints the union of the given sets (the empty set \\x118B7F if none)\n"
	        "  inspect  prints one JSON object per set: type, cardinality, estimate and\n"
	        "           nonzero_registers\n"
	        "HEX is the set's bytes in hexadecimal, with or without the \\x prefix, in\n"
	        "either case.  Exit status: 0 done, 1 bad usage or input, 2 stdin unreadable.\n");
}

static void quote(char *out, size_t size, const char *arg)
{
	if (strlen(arg) > HLL_QUOTE_MAX)
		snprintf(out, size, "%.*s...", HLL_QUOTE_MAX, arg);
	else
		snprintf(out, size, "%s", arg);
}

static int parse_raw(const char *text, int64_t *out)
{
	char *end;
	if (!*text || isspace((unsigned char)*text))
		return ES_EFORMAT;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return ES_EFORMAT;
	*out = v;
	return 0;
}

static int add_token(hll_t *h, const char *token, const char *where)
{
	int64_t raw;
	int rc = parse_raw(token, &raw);
	if (rc) {
		char q[HLL_QUOTE_MAX + 4];
		quote(q, sizeof q, token);
		fprintf(stderr, "eidastats hll add: %s\"%s\" is not a signed 64-bit integer%s\n", where, q,
		        rc == -ERANGE ? " (out of range)" : "");
		return EXIT_USAGE;
	}
	hll_add_raw(h, raw);
	return EXIT_DONE;
}

static int add_stdin(hll_t *h)
{
	char token[HLL_TOKEN_MAX + 1];
	size_t len = 0;
	int c;
	do {
		c = getchar();
		if (c != EOF && !isspace(c)) {
			if (len == HLL_TOKEN_MAX) {
				token[len] = '\0';
				fprintf(stderr, "eidastats hll add: stdin: a value longer than %d characters "
				        "(starting \"%.20s\") is not a signed 64-bit integer\n",
				        HLL_TOKEN_MAX, token);
				return EXIT_USAGE;
			}
			token[len++] = (char)c;
			continue;
		}
		if (len) {
			token[len] = '\0';
			len = 0;
			int rc = add_token(h, token, "stdin: ");
			if (rc)
				return rc;
		}
	} while (c != EOF);
	if (ferror(stdin)) {
		fprintf(stderr, "eidastats hll add: reading stdin: %s\n", strerror(errno));
		return EXIT_INPUT;
	}
	return EXIT_DONE;
}

static void print_hex(const hll_t *h)
{
	char hex[HLL_HEX_MAX];
	hll_to_hex(h, hex);
	printf("%s\n", hex);
}

static int do_add(int argc, char **argv)
{
	hll_t h;
	int rc = EXIT_DONE;
	hll_init(&h);
	for (int i = 1; i < argc && rc == EXIT_DONE; i++)
		rc = strcmp(argv[i], "-") == 0 ? add_stdin(&h) : add_token(&h, argv[i], "");
	if (rc == EXIT_DONE)
		print_hex(&h);
	hll_fini(&h);
	return rc;
}

static int parse_arg(hll_t *h, const char *verb, int index, const char *arg)
{
	const char *why = NULL;
	int rc = hll_parse_hex(h, arg, strlen(arg), &why);
	if (rc) {
		char q[HLL_QUOTE_MAX + 4];
		quote(q, sizeof q, arg);
		fprintf(stderr, "eidastats hll %s: argument %d (\"%s\"): %s: %s\n", verb, index, q,
		        es_strerror(rc), why ? why : "invalid");
		return EXIT_USAGE;
	}
	return EXIT_DONE;
}

static int do_union(int argc, char **argv)
{
	hll_t acc, h;
	int rc = EXIT_DONE;
	hll_init(&acc);
	hll_init(&h);
	for (int i = 1; i < argc && rc == EXIT_DONE; i++) {
		rc = parse_arg(&h, "union", i, argv[i]);
		if (rc == EXIT_DONE)
			hll_union(&acc, &h);
	}
	if (rc == EXIT_DONE)
		print_hex(&acc);
	hll_fini(&h);
	hll_fini(&acc);
	return rc;
}

/* Formats d as Python's repr() does (shortest round-trip digits), or null if not finite. */
static void format_double(char *out, size_t size, double d)
{
	if (!isfinite(d)) {
		snprintf(out, size, "null");
		return;
	}
	char sci[40];
	int prec;
	for (prec = 1; prec < 17; prec++) {
		snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
		if (strtod(sci, NULL) == d)
			break;
	}
	snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
	int exp10 = atoi(strchr(sci, 'e') + 1);
	if (exp10 < -4 || exp10 >= 16) {
		snprintf(out, size, "%s", sci);
		return;
	}
	int decimals = prec - 1 - exp10;
	snprintf(out, size, "%.*f", decimals > 0 ? decimals : 0, d);
	if (!strchr(out, '.'))
		strncat(out, ".0", size - strlen(out) - 1);
}

static int do_inspect(int argc, char **argv)
{
	hll_t h;
	int rc = EXIT_DONE;
	hll_init(&h);
	/* Every argument is checked before any output, so a bad one leaves stdout empty. */
	for (int i = 1; i < argc && rc == EXIT_DONE; i++)
		rc = parse_arg(&h, "inspect", i, argv[i]);
	for (int i = 1; i < argc && rc == EXIT_DONE; i++) {
		char est[64];
		rc = parse_arg(&h, "inspect", i, argv[i]);
		if (rc)
			break;
		format_double(est, sizeof est, hll_estimate(&h));
		printf("{\"type\": \"%s\", \"cardinality\": %llu, \"estimate\": %s, \"nonzero_registers\": %u}\n",
		       hll_type_name(&h), (unsigned long long)hll_cardinality(&h), est,
		       hll_nonzero_registers(&h));
	}
	hll_fini(&h);
	return rc;
}

int cmd_hll(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			hll_usage(stdout);
			return EXIT_DONE;
		}
	}
	if (argc < 2) {
		fprintf(stderr, "eidastats hll: a subcommand is required\n");
		hll_usage(stderr);
		return EXIT_USAGE;
	}
	int rc;
	if (strcmp(argv[1], "add") == 0) {
		rc = do_add(argc - 1, argv + 1);
	} else if (strcmp(argv[1], "union") == 0) {
		rc = do_union(argc - 1, argv + 1);
	} else if (strcmp(argv[1], "inspect") == 0) {
		rc = do_inspect(argc - 1, argv + 1);
	} else {
		fprintf(stderr, "eidastats hll: unknown subcommand '%s'\n", argv[1]);
		hll_usage(stderr);
		return EXIT_USAGE;
	}
	if (rc == EXIT_DONE && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "eidastats hll: writing output: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	return rc;
}
