/*
 * push.h - delivery of spooled payloads to the central service.
 *
 * libcurl's multi interface runs on the daemon's libuv loop (uv_poll for
 * sockets, uv_timer for curl's timeouts).  Payloads go oldest first, up to
 * PUSH_PARALLEL at a time; the stored bytes are sent unchanged on every
 * attempt, with "Authentication: Bearer" (what the upstream service reads)
 * and "Authorization: Bearer".  TLS peer and host verification stay on.
 *
 * Answers:
 *   2xx            delivered: the spool file is removed;
 *   409, or 400 whose body says "already exists"
 *                  delivered as a duplicate (logged); if an earlier attempt
 *                  of the same payload got a 5xx, the payload is flagged for
 *                  attention (the upstream service may have stored the hash
 *                  and lost the rows), in status and STATE/attention.log;
 *   401, 403       deliveries pause; status shows the problem until reload;
 *   other 4xx      the payload moves to spool/rejected/ (kept) with an alert;
 *   5xx, 408, 429, 1xx/3xx, timeouts, resets, DNS and TLS failures
 *                  retried forever: capped, jittered exponential backoff
 *                  (central.retry.initial doubling up to central.retry.max),
 *                  or the server's Retry-After when it gives one (seconds or
 *                  an HTTP date; obeyed up to POLICY_MAX_RETRY_AFTER); the rules are
 *                  the pure functions of policy.h.
 * A 5xx is remembered across restarts by a marker STATE/delivery/<id>.5xx.
 * When the spool cannot be updated after a final answer (the state directory
 * is full or read-only), the payload is not sent again: new deliveries wait
 * and the update is retried every 5 s ("unfinished" in the status).
 * Payloads whose ledger record is held back (esd_payload_is_held()) are not
 * sent.
 * Spool loads and removals run in the thread pool (work_call()).
 *
 * Ownership: push_init() allocates d->push; push_close() aborts transfers
 * and closes handles (they are redone after restart); push_free() frees
 * what is left after the loop ended.  Loop thread only.
 */
#ifndef ESD_PUSH_H
#define ESD_PUSH_H

#include <cjson/cJSON.h>

#include "daemon.h"

#define PUSH_PARALLEL 4
#define PUSH_MAX_RESPONSE 4096   /* Bytes of a response body kept for classification. */

int push_init(esd_t *d);
void push_close(esd_t *d);
void push_free(esd_t *d);

/* New payloads may be waiting. */
void push_kick(esd_t *d);
/* `retry`: forget the backoff and deliver now. */
void push_retry_now(esd_t *d);
/* After a reload: new URL, token or retry settings; clears an auth pause. */
void push_reconfigure(esd_t *d);
/* Transfers in flight. */
int push_inflight(esd_t *d);
/* Adds "delivery", "last_delivery" and "attention" to obj. */
void push_status_json(esd_t *d, cJSON *obj);

#endif
