/*
 * request.h - one line of a SeisComP fdsnws request log → one request event,
 * with the exact rules of doc/upstream-aggregator.md §3-§5 (the upstream
 * aggregator's), except that input upstream crashes on (§9) is a malformed
 * line here.  A line is judged as a whole before anything is recorded: every
 * field of every OK trace is checked, so the caller either uses the whole
 * event or skips the whole line.
 *
 * Steps, in upstream's order (the first that fails decides the verdict):
 *  1. the whole line must be valid UTF-8 (strict), then JSON as Python's json
 *     module reads it (cJSON does the parsing; a lexical pass first refuses
 *     what cJSON accepts and Python does not: leading zeros, "1.", control
 *     characters in strings, whitespace other than space/tab/CR/LF, trailing
 *     data) → REQ_JSON.  The common line (an object, no escapes in its
 *     strings, not deeply nested, "country" present) is judged instead in one
 *     pass of this module that checks the same rules and keeps the fields
 *     below as it reads them, without a tree (the "fast path"); it declines
 *     anything else, which the full path above then judges from scratch: the
 *     verdicts and events are the same either way (req_parser_reference()
 *     and the differential fuzz target check it);
 *  2. a JSON value that is not an object → REQ_INVALID;
 *  3. "finished": absent or not a string → REQ_INVALID; not a date of §4 →
 *     REQ_DATE (req_parse_date() below);
 *  4. "userLocation": absent or not an object → REQ_INVALID; without
 *     "country" → country "" and country_missing set; "country" a string or
 *     null (kept as null), anything else → REQ_INVALID;
 *  5. "status": absent → REQ_INVALID; the string "OK" → an OK request,
 *     anything else → a failed request (its "trace" is never looked at);
 *  6. OK request: "trace" absent or not an array → REQ_INVALID; each entry
 *     must be an object with "status"; an entry whose status is "OK" must have
 *     string "net", "sta", "loc", "cha", "start" and an integer "bytes"
 *     (within int64) → else REQ_INVALID; other entries are ignored.
 * Duplicate keys: the last one wins, as in Python.  "userID" is only needed
 * when something is recorded, which depends on the network extender, so it is
 * reported as a state (client_state) for the caller to judge.
 *
 * Ownership: req_parser_new() allocates a parser holding reusable buffers and
 * the parsed tree of the current line; req_parser_free() frees it.  The event
 * filled by req_parse() and every string it points to belong to the parser and
 * stay valid until the next req_parse() or req_parser_free().  A parser is
 * used by one thread at a time.
 *
 * Allocation: the parse tree of a line lives in an arena of the parser,
 * emptied by the next req_parse().  The first req_parser_new() installs
 * cJSON's process-wide allocator hooks once (cJSON_InitHooks): they serve the
 * arena while req_parse() runs cJSON in the calling thread and are plain
 * malloc()/free() otherwise, so other cJSON users are unaffected — but a
 * program must not install hooks of its own.  cJSON's parse writes a
 * process-wide error position: parsers in several threads take turns for it
 * (a lock around each cJSON parse; the fast path needs none).
 */
#ifndef ES_REQUEST_H
#define ES_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* Most JSON values (objects, arrays, scalars) one line may hold: bounds the parse tree. */
#define REQ_MAX_VALUES (1u << 18)
/* Longest number literal of a line: cJSON reads no more; a longer one makes the line malformed. */
#define REQ_MAX_NUMBER 63
/* Longest message req_parse() formats (longer values are cut with "..."). */
#define REQ_MSG_MAX 512

enum req_verdict {
	REQ_OK = 0,       /* The event is filled in; use it. */
	REQ_JSON = 1,     /* Not JSON, not UTF-8 or over a limit: skip (upstream: warning or crash). */
	REQ_DATE = 2,     /* "finished" is not a parsable date: skip (upstream: warning). */
	REQ_INVALID = 3   /* JSON fine but a field upstream crashes on: skip. */
};

enum req_client {
	REQ_CLIENT_OK = 0,      /* client_raw holds the hash of str(userID). */
	REQ_CLIENT_MISSING = 1, /* No "userID": malformed if anything is recorded. */
	REQ_CLIENT_BAD = 2      /* A float, an object or an array: malformed if used. */
};

/* A string of the line; s == NULL stands for JSON null (country only). */
typedef struct req_str {
	const char *s;  /* NUL-terminated; never contains NUL (such lines are refused). */
	size_t len;
} req_str_t;

/* One trace whose status is "OK" (other traces are not kept). */
typedef struct req_trace {
	req_str_t net, sta, loc, cha;
	req_str_t start;  /* The first 10 characters (code points) of trace.start: len
	                   * bytes of s, which is trace.start whole (its NUL comes later). */
	int64_t bytes;
} req_trace_t;

typedef struct req_event {
	int year, month, day;        /* Calendar date of "finished" as written. */
	req_str_t country;           /* s NULL for "country": null. */
	int country_missing;         /* userLocation had no "country" (country is ""). */
	int ok;                      /* Request status is exactly "OK". */
	enum req_client client_state;
	int64_t client_raw;          /* hll_client_raw(str(userID)) when REQ_CLIENT_OK. */
	size_t ntraces;              /* OK traces of an OK request. */
	const req_trace_t *traces;
	/*
	 * For REQ_OK with country_missing: upstream's warning text; for the other
	 * verdicts: why the line is skipped (upstream's warning where it has one).
	 * Never NULL after req_parse().
	 */
	const char *msg;
	const char *client_why;      /* For REQ_CLIENT_MISSING/BAD: what is wrong with userID. */
} req_event_t;

typedef struct req_parser req_parser_t;

req_parser_t *req_parser_new(void);
void req_parser_free(req_parser_t *p);
/* on: parse every line with cJSON, never the fast path (the reference, for tests). */
void req_parser_reference(req_parser_t *p, int on);
/* 1 if the fast path judged the last line req_parse() saw, else 0 (for tests). */
int req_parser_last_fast(const req_parser_t *p);

/*
 * Parses one line (len bytes, without its '\n'; a trailing '\r' is JSON
 * whitespace).  lineno is the line number within its file, used in messages.
 * allow_bom: accept a leading UTF-8 byte order mark (upstream does for lines
 * it reads from bzip2 files, not for plain text files).  Returns the verdict
 * and points *ev at the parser's event (valid until the next call).
 */
enum req_verdict req_parse(req_parser_t *p, const char *line, size_t len, uint64_t lineno,
                           int allow_bom, const req_event_t **ev);

/*
 * Parses a "finished" value with upstream's two strptime formats
 * (doc/upstream-aggregator.md §4): YYYY-MM-DD(T|t)hh:mm:ss[.f{1,6}]TZ with the
 * one-digit and " D" day forms, TZ = 'Z' or ±HH[:]MM[[:]SS[.f{1,6}]] (colons
 * consistent, offset below 24 h).  The offset is not applied.  Returns 0 and
 * the date as written, or -1 (seconds 60 and 61, impossible dates and year 0
 * included).
 */
int req_parse_date(const char *s, size_t len, int *year, int *month, int *day);

#endif
