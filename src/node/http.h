/*
 * http.h - one blocking HTTP POST of a payload with libcurl, for the CLI's
 * --send-to (the daemon drives libcurl's multi interface from its loop).
 *
 * The request carries upstream's header "Authentication: Bearer TOKEN" (the
 * name the EIDA central service reads) and "Content-Type: application/json";
 * with gzip set the body is sent as given with "Content-Encoding: gzip".
 * TLS peers are verified.
 *
 * Ownership: http_post() fills a caller-provided http_response_t whose body
 * is malloc()ed (at most HTTP_BODY_MAX bytes kept) and released by
 * http_response_fini().
 */
#ifndef ES_HTTP_H
#define ES_HTTP_H

#include <stddef.h>

#define HTTP_BODY_MAX (64u << 10)

typedef struct http_response {
	long status;         /* HTTP status, 0 if no answer was received. */
	char *body;          /* NUL-terminated answer (possibly cut at HTTP_BODY_MAX), or NULL. */
	size_t body_len;
	char error[256];     /* Transport error text when status is 0. */
} http_response_t;

/*
 * POSTs body to url.  Returns 0 on a 2xx answer, ES_EHTTP on any other
 * answer (see resp->status and resp->body), ES_ENET when no answer came
 * (resp->error says why), -EINVAL for a bad URL.
 */
int http_post(const char *url, const char *token, const void *body, size_t len,
              int gzip, long timeout_s, http_response_t *resp);

void http_response_fini(http_response_t *resp);

#endif
