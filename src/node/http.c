#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "curlx.h"
#include "error.h"
#include "http.h"
#include "mem.h"

static size_t http_collect(char *data, size_t size, size_t nmemb, void *arg)
{
	http_response_t *resp = arg;
	size_t n = size * nmemb, keep = n;

	/* The answer is only shown to a person; keep its beginning, drop the rest. */
	if (resp->body_len + keep > HTTP_BODY_MAX)
		keep = HTTP_BODY_MAX - resp->body_len;
	if (keep > 0) {
		resp->body = es_realloc(resp->body, resp->body_len + keep + 1);
		memcpy(resp->body + resp->body_len, data, keep);
		resp->body_len += keep;
		resp->body[resp->body_len] = '\0';
	}
	return n;
}

int http_post(const char *url, const char *token, const void *body, size_t len,
              int gzip, long timeout_s, http_response_t *resp)
{
	char auth[1024];
	struct curl_slist *hdr = NULL;
	CURLcode cc;
	CURL *c;
	int rc;

	memset(resp, 0, sizeof *resp);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		snprintf(resp->error, sizeof resp->error, "not an http(s) URL: %s", url);
		return -EINVAL;
	}
	if (strlen(token ? token : "") > 512) {
		snprintf(resp->error, sizeof resp->error, "token longer than 512 characters");
		return -EINVAL;
	}
	c = curlx_easy_new();
	if (!c) {
		snprintf(resp->error, sizeof resp->error, "cannot create a curl handle");
		return ES_EINTERNAL;
	}
	snprintf(auth, sizeof auth, "Authentication: Bearer %s", token ? token : "");
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	/* libcurl would otherwise add "Expect: 100-continue" and wait for it on large bodies. */
	hdr = curl_slist_append(hdr, "Expect:");
	if (gzip)
		hdr = curl_slist_append(hdr, "Content-Encoding: gzip");

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 600L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->error);

	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (!resp->error[0])
			snprintf(resp->error, sizeof resp->error, "%s", curl_easy_strerror(cc));
		rc = ES_ENET;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		rc = resp->status >= 200 && resp->status < 300 ? 0 : ES_EHTTP;
	}
	curlx_slist_free_secret(hdr);
	explicit_bzero(auth, sizeof auth);
	curl_easy_cleanup(c);
	return rc;
}

void http_response_fini(http_response_t *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}
