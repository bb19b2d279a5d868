/*
 * eas.h - EIDA Authentication Service tokens for /dataselect/restricted
 * (doc/query-api.md "Tokens").
 *
 * A token is an OpenPGP clear-signed message whose signed text is a JSON
 * object: valid_until ("2019-04-20T12:33:43.663076Z": 1 to 6 fraction digits,
 * 'Z', compared in UTC), memberof (groups separated by ';'), cn, mail, sn,
 * givenName, issued, expiration.  Only the text GnuPG reports as signed is
 * read; text around the signature is ignored.
 *
 * Two parts:
 *  - eas_token_parse(): a pure parser of the verified text (fuzzable);
 *  - struct eas_verifier: GnuPG through gpgme.  eas_verifier_new() imports
 *    the public keys of a keyring directory (a GnuPG home holding
 *    pubring.kbx or pubring.gpg, and/or exported key files *.asc *.gpg *.pub)
 *    into a private GnuPG home the caller names (created 0700; for example
 *    under the service's runtime directory), so the keyring may be read-only.
 *    eas_verify() accepts a good signature by any key of that keyring, owner
 *    trust ignored; expired or revoked keys, bad signatures, unknown keys and
 *    bodies without a signature are refused.
 *  - eas_check() runs both and maps the outcome to upstream's 401 texts.
 *
 * Ownership: struct eas_token owns its strings (eas_token_fini frees); the
 * plaintext of eas_verify() is malloc()ed for the caller.  A verifier may be
 * used by several threads at once (each call has its own gpgme context);
 * create and free it from one thread (at start, on SIGHUP).  The size limit
 * of a token body (max_token, 413) is the HTTP layer's.
 */
#ifndef ES_EAS_H
#define ES_EAS_H

#include <stddef.h>
#include <stdint.h>

#define EAS_MAX_GROUPS 256
#define EAS_MAX_TEXT (1u << 20)  /* Largest signed text parsed. */

struct eas_token {
	int64_t valid_until;    /* Microseconds since 1970-01-01 UTC. */
	char **groups;          /* memberof split on ';' (empty entries dropped); none when absent. */
	size_t ngroups;
	char *cn, *mail, *sn, *given_name, *issued, *expiration; /* NULL when absent. */
};

/*
 * Parses the signed text (len bytes, need not be NUL-terminated): one JSON
 * object; valid_until required; the known fields, when present, must be
 * strings; other keys are ignored.  Returns 0, ES_EFORMAT (with *why a static
 * sentence when why is not NULL) or -ENOMEM.  t is always left for eas_token_fini.
 */
int eas_token_parse(struct eas_token *t, const char *text, size_t len, const char **why);
void eas_token_fini(struct eas_token *t);
/* Parses "YYYY-MM-DDTHH:MM:SS.fZ" (1..6 fraction digits) to UTC microseconds. */
int eas_parse_time(const char *s, int64_t *us);
/* 1 when the token's valid_until is strictly before now_us. */
int eas_token_expired(const struct eas_token *t, int64_t now_us);

struct eas_verifier;

/*
 * Imports keyring's public keys into the GnuPG home `home` (created if
 * missing; its old keys are kept, so give a fresh directory to drop keys).
 * Returns 0, ES_ECONFIG (no key found, unusable directory, no gpg; why[]
 * gets a sentence, cut to whylen) or -ENOMEM.  Needs the gpg program
 * (Debian package gnupg) at run time.
 */
int eas_verifier_new(struct eas_verifier **out, const char *keyring, const char *home,
                     char *why, size_t whylen);
void eas_verifier_free(struct eas_verifier *v);
/* Number of public keys in the private home. */
size_t eas_verifier_keys(const struct eas_verifier *v);
/*
 * Verifies a clear-signed body.  Returns 0 with *plain (malloc()ed,
 * NUL-terminated) and *plen the signed text; ES_EAUTH for a bad signature,
 * an unknown, expired or revoked key, or no signature; ES_EINTERNAL when
 * GnuPG cannot be run.
 */
int eas_verify(struct eas_verifier *v, const void *body, size_t len, char **plain, size_t *plen);

enum eas_status {
	EAS_OK = 0,
	EAS_INVALID,    /* 401 Invalid token or no token file provided */
	EAS_EXPIRED,    /* 401 Token has expired! */
	EAS_MALFORMED,  /* 401 Malformed token file provided */
	EAS_ERROR       /* 500: GnuPG could not be run */
};

/*
 * The whole check of a restricted request's body: empty -> EAS_INVALID;
 * verification refused -> EAS_INVALID; signed text not a token ->
 * EAS_MALFORMED; expired at now_us -> EAS_EXPIRED; else EAS_OK with *t
 * filled (eas_token_fini it in every case).  v NULL (no keyring configured)
 * -> EAS_INVALID.
 */
enum eas_status eas_check(struct eas_verifier *v, const void *body, size_t len, int64_t now_us,
                          struct eas_token *t);
/* HTTP status and upstream's message (query.h Q_MSG_TOKEN_*) of a status; NULL message for EAS_OK. */
int eas_status_http(enum eas_status s, const char **msg);

#endif
