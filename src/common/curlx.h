/*
 * curlx.h - the one way eidastats makes a libcurl easy handle.
 *
 * Every HTTP client of the project (the CLI's `send`, the network
 * registry, the daemon's deliveries, later the report mailer) starts from
 * curlx_easy_new(), so they all send one User-Agent ("eidastats/VERSION"),
 * speak only http and https (redirects included), verify TLS peers and host
 * names, and never use signals (they run in worker threads).  Callers add
 * their URL, headers, body, callbacks and timeouts.
 *
 * Needs libcurl: a program that calls it links $(CURL_LIBS) (see
 * src/common/Makefile.inc); curl_global_init() is the program's business.
 * Ownership: the handle belongs to the caller (curl_easy_cleanup()).
 * Thread safety: any thread.
 */
#ifndef ES_CURLX_H
#define ES_CURLX_H

#include <curl/curl.h>

#define CURLX_USER_AGENT "eidastats/" PACKAGE_VERSION

/* A new easy handle with the settings above, or NULL (out of memory). */
CURL *curlx_easy_new(void);
/* curl_slist_free_all() that first wipes every string with explicit_bzero()
 * (header lists carry the bearer token).  NULL is fine. */
void curlx_slist_free_secret(struct curl_slist *list);

#endif
