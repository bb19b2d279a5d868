/*
 * eas.c - EIDA tokens: parser of the signed text and gpgme verification (eas.h).
 */
#include "eas.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <gpgme.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "query.h"

/* ---- the signed text ---- */

void eas_token_fini(struct eas_token *t)
{
	for (size_t i = 0; i < t->ngroups; i++)
		free(t->groups[i]);
	free(t->groups);
	free(t->cn);
	free(t->mail);
	free(t->sn);
	free(t->given_name);
	free(t->issued);
	free(t->expiration);
	memset(t, 0, sizeof(*t));
}

/* Reads 1..max ASCII digits. */
static int digits(const char **s, int min, int max, int *v)
{
	int n = 0;

	*v = 0;
	while (n < max && **s >= '0' && **s <= '9') {
		*v = *v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n >= min ? 0 : -1;
}

int eas_parse_time(const char *s, int64_t *us)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se, frac, nfrac;
	const char *f;
	time_t t;

	if (digits(&s, 4, 4, &y) || *s++ != '-' || digits(&s, 1, 2, &mo) || *s++ != '-'
	    || digits(&s, 1, 2, &d) || *s++ != 'T' || digits(&s, 1, 2, &h) || *s++ != ':'
	    || digits(&s, 1, 2, &mi) || *s++ != ':' || digits(&s, 1, 2, &se) || *s++ != '.')
		return ES_EFORMAT;
	f = s;
	if (digits(&s, 1, 6, &frac) || *s++ != 'Z' || *s)
		return ES_EFORMAT;
	nfrac = (int)(s - 1 - f);
	for (int i = nfrac; i < 6; i++)
		frac *= 10;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 61)
		return ES_EFORMAT;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	/* timegm normalises 31 April to 1 May: refuse dates that do not exist. */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1 || se > 59)
		return ES_EFORMAT;
	*us = (int64_t)t * 1000000 + frac;
	return 0;
}

int eas_token_expired(const struct eas_token *t, int64_t now_us)
{
	return t->valid_until < now_us;
}

/* Copies a string field; absent is fine, another type is not. */
static int field(const cJSON *o, const char *key, char **out, const char **why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v)) {
		*why = "a token field is not a string";
		return ES_EFORMAT;
	}
	*out = strdup(v->valuestring);
	return *out ? 0 : -ENOMEM;
}

static int split_groups(struct eas_token *t, const char *s)
{
	while (*s) {
		const char *e = strchr(s, ';');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n) {
			char **ng;

			if (t->ngroups >= EAS_MAX_GROUPS)
				return ES_ELIMIT;
			ng = realloc(t->groups, (t->ngroups + 1) * sizeof(*ng));
			if (!ng)
				return -ENOMEM;
			t->groups = ng;
			if (!(t->groups[t->ngroups] = strndup(s, n)))
				return -ENOMEM;
			t->ngroups++;
		}
		if (!e)
			break;
		s = e + 1;
	}
	return 0;
}

int eas_token_parse(struct eas_token *t, const char *text, size_t len, const char **why)
{
	const char *dummy;
	cJSON *o = NULL;
	char *vu = NULL, *mo = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!why)
		why = &dummy;
	*why = NULL;
	if (len > EAS_MAX_TEXT) {
		*why = "the signed text is too long";
		return ES_EFORMAT;
	}
	if (memchr(text, '\0', len)) {
		*why = "the signed text holds a NUL byte";
		return ES_EFORMAT;
	}
	{
		/* NUL-terminated copy: nothing but white space may follow the object. */
		char *z = strndup(text, len);

		if (!z)
			return -ENOMEM;
		o = cJSON_ParseWithOpts(z, NULL, 1);
		free(z);
	}
	if (!o || !cJSON_IsObject(o)) {
		*why = "the signed text is not one JSON object";
		cJSON_Delete(o);
		return ES_EFORMAT;
	}
	if ((rc = field(o, "valid_until", &vu, why)) || (rc = field(o, "memberof", &mo, why))
	    || (rc = field(o, "cn", &t->cn, why)) || (rc = field(o, "mail", &t->mail, why))
	    || (rc = field(o, "sn", &t->sn, why)) || (rc = field(o, "givenName", &t->given_name, why))
	    || (rc = field(o, "issued", &t->issued, why))
	    || (rc = field(o, "expiration", &t->expiration, why)))
		goto out;
	if (!vu) {
		*why = "the token has no valid_until";
		rc = ES_EFORMAT;
		goto out;
	}
	if (eas_parse_time(vu, &t->valid_until) < 0) {
		*why = "the token's valid_until is not a date";
		rc = ES_EFORMAT;
		goto out;
	}
	if (mo && (rc = split_groups(t, mo)) < 0) {
		if (rc == ES_ELIMIT) {
			*why = "the token lists too many groups";
			rc = ES_EFORMAT;
		}
		goto out;
	}
	rc = 0;
out:
	free(vu);
	free(mo);
	cJSON_Delete(o);
	return rc;
}

/* ---- GnuPG ---- */

struct eas_verifier {
	char *home;
	size_t nkeys;
	char why[512];  /* Reason of a failure while it is being built. */
};

static int new_ctx(gpgme_ctx_t *ctx, const char *home)
{
	if (gpgme_new(ctx))
		return ES_EINTERNAL;
	if (gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP)
	    || gpgme_ctx_set_engine_info(*ctx, GPGME_PROTOCOL_OpenPGP, NULL, home)) {
		gpgme_release(*ctx);
		return ES_EINTERNAL;
	}
	gpgme_set_offline(*ctx, 1);
	return 0;
}

/* Copies src to dst (a private copy of a keyring file gpg may then lock and read). */
static int copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb"), *out;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (!in)
		return -errno;
	out = fopen(dst, "wb");
	if (!out) {
		rc = -errno;
		fclose(in);
		return rc;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n) {
			rc = -EIO;
			break;
		}
	if (ferror(in))
		rc = -EIO;
	fclose(in);
	if (fclose(out) != 0 && !rc)
		rc = -errno;
	return rc;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Imports the data into ctx's home; adds the keys considered. */
static int import_data(gpgme_ctx_t ctx, gpgme_data_t d)
{
	gpgme_import_result_t r;

	if (gpgme_op_import(ctx, d))
		return ES_EFORMAT;
	r = gpgme_op_import_result(ctx);
	return r ? r->considered : 0;
}

static size_t count_keys(const char *home)
{
	gpgme_ctx_t ctx;
	gpgme_key_t key;
	size_t n = 0;

	if (new_ctx(&ctx, home) < 0)
		return 0;
	if (gpgme_op_keylist_start(ctx, NULL, 0) == 0) {
		while (gpgme_op_keylist_next(ctx, &key) == 0) {
			n++;
			gpgme_key_unref(key);
		}
		gpgme_op_keylist_end(ctx);
	}
	gpgme_release(ctx);
	return n;
}

int eas_verifier_new(struct eas_verifier **out, const char *keyring, const char *home,
                     char *why, size_t whylen)
{
	struct eas_verifier *v;
	gpgme_ctx_t ctx = NULL, src = NULL;
	char stage[4096], path[4096], dst[8192];
	DIR *dir = NULL;
	struct dirent *de;
	int rc = 0;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v || !(v->home = strdup(home))) {
		free(v);
		return -ENOMEM;
	}
	gpgme_check_version(NULL);
	if (gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)) {
		snprintf(v->why, sizeof(v->why), "GnuPG (gpg) is not installed or too old");
		rc = ES_ECONFIG;
		goto fail;
	}
	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		snprintf(v->why, sizeof(v->why), "cannot create %.300s: %s", home, strerror(errno));
		rc = ES_ECONFIG;
		goto fail;
	}
	chmod(home, 0700);
	snprintf(stage, sizeof(stage), "%s/keyring-copy", home);
	if (mkdir(stage, 0700) < 0 && errno != EEXIST) {
		snprintf(v->why, sizeof(v->why), "cannot create %.300s: %s", stage, strerror(errno));
		rc = ES_ECONFIG;
		goto fail;
	}
	if ((rc = new_ctx(&ctx, home)) < 0 || (rc = new_ctx(&src, stage)) < 0) {
		snprintf(v->why, sizeof(v->why), "cannot set up gpgme");
		goto fail;
	}
	dir = opendir(keyring);
	if (!dir) {
		snprintf(v->why, sizeof(v->why), "cannot read the keyring directory %.300s: %s",
		         keyring, strerror(errno));
		rc = ES_ECONFIG;
		goto fail;
	}
	while ((de = readdir(dir))) {
		const char *n = de->d_name;
		gpgme_data_t d;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", keyring, n) >= sizeof(path))
			continue;
		if (strcmp(n, "pubring.kbx") == 0 || strcmp(n, "pubring.gpg") == 0) {
			/* A GnuPG home's keyring: export it from a private copy, then import. */
			if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", stage, n) >= sizeof(dst))
				continue;
			if (copy_file(path, dst) < 0)
				continue;
			if (gpgme_data_new(&d))
				continue;
			if (gpgme_op_export(src, NULL, 0, d) == 0) {
				gpgme_data_seek(d, 0, SEEK_SET);
				import_data(ctx, d);
			}
			gpgme_data_release(d);
		} else if (ends_with(n, ".asc") || ends_with(n, ".pub")
		           || (ends_with(n, ".gpg") && strcmp(n, "trustdb.gpg") != 0
		               && strcmp(n, "secring.gpg") != 0)) {
			if (gpgme_data_new_from_file(&d, path, 1))
				continue;
			import_data(ctx, d);
			gpgme_data_release(d);
		}
	}
	v->nkeys = count_keys(home);
	if (v->nkeys == 0) {
		snprintf(v->why, sizeof(v->why), "no public key found in %.300s", keyring);
		rc = ES_ECONFIG;
		goto fail;
	}
	closedir(dir);
	gpgme_release(ctx);
	gpgme_release(src);
	*out = v;
	return 0;
fail:
	if (dir)
		closedir(dir);
	if (ctx)
		gpgme_release(ctx);
	if (src)
		gpgme_release(src);
	if (why && whylen)
		snprintf(why, whylen, "%s", v->why);
	free(v->home);
	free(v);
	return rc;
}

void eas_verifier_free(struct eas_verifier *v)
{
	if (!v)
		return;
	free(v->home);
	free(v);
}

size_t eas_verifier_keys(const struct eas_verifier *v)
{
	return v->nkeys;
}

int eas_verify(struct eas_verifier *v, const void *body, size_t len, char **plain, size_t *plen)
{
	gpgme_ctx_t ctx;
	gpgme_data_t sig = NULL, out = NULL;
	gpgme_verify_result_t res;
	gpgme_signature_t s;
	int rc = ES_EAUTH, nsig = 0, good = 1;
	char *mem;
	size_t n;

	*plain = NULL;
	*plen = 0;
	if ((rc = new_ctx(&ctx, v->home)) < 0)
		return rc;
	rc = ES_EAUTH;
	if (gpgme_data_new_from_mem(&sig, body, len, 0) || gpgme_data_new(&out)) {
		rc = ES_EINTERNAL;
		goto done;
	}
	if (gpgme_op_verify(ctx, sig, NULL, out))
		goto done;
	res = gpgme_op_verify_result(ctx);
	for (s = res ? res->signatures : NULL; s; s = s->next) {
		nsig++;
		if (gpg_err_code(s->status) != GPG_ERR_NO_ERROR
		    || (s->summary & (GPGME_SIGSUM_RED | GPGME_SIGSUM_KEY_REVOKED
		                      | GPGME_SIGSUM_KEY_EXPIRED | GPGME_SIGSUM_SIG_EXPIRED
		                      | GPGME_SIGSUM_KEY_MISSING)))
			good = 0;
	}
	if (!nsig || !good)
		goto done;
	mem = gpgme_data_release_and_get_mem(out, &n);
	out = NULL;
	*plain = malloc(n + 1);
	if (!*plain) {
		gpgme_free(mem);
		rc = -ENOMEM;
		goto done;
	}
	if (n)
		memcpy(*plain, mem, n);
	(*plain)[n] = '\0';
	*plen = n;
	gpgme_free(mem);
	rc = 0;
done:
	if (sig)
		gpgme_data_release(sig);
	if (out)
		gpgme_data_release(out);
	gpgme_release(ctx);
	return rc;
}

enum eas_status eas_check(struct eas_verifier *v, const void *body, size_t len, int64_t now_us,
                          struct eas_token *t)
{
	char *plain;
	size_t n;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!v || len == 0)
		return EAS_INVALID;
	rc = eas_verify(v, body, len, &plain, &n);
	if (rc == ES_EAUTH)
		return EAS_INVALID;
	if (rc < 0)
		return EAS_ERROR;
	rc = eas_token_parse(t, plain, n, NULL);
	free(plain);
	if (rc == -ENOMEM)
		return EAS_ERROR;
	if (rc < 0)
		return EAS_MALFORMED;
	return eas_token_expired(t, now_us) ? EAS_EXPIRED : EAS_OK;
}

int eas_status_http(enum eas_status s, const char **msg)
{
	switch (s) {
	case EAS_OK: *msg = NULL; return 200;
	case EAS_INVALID: *msg = Q_MSG_TOKEN_INVALID; return 401;
	case EAS_EXPIRED: *msg = Q_MSG_TOKEN_EXPIRED; return 401;
	case EAS_MALFORMED: *msg = Q_MSG_TOKEN_MALFORMED; return 401;
	case EAS_ERROR: break;
	}
	*msg = NULL;
	return 500;
}
