/*
 * test_report.c - eidastats-report's library: settings, periods, file
 * names, report.json and CSV texts (the database parts: tests/sh/report.sh).
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "unit.h"

#include "report/emit.h"
#include "report/period.h"
#include "report/settings.h"

static int load(struct rpt_settings *s, const char *text, char *err, size_t errlen)
{
	rpt_settings_init(s);
	return rpt_settings_load_text(s, text, strlen(text), "report.yaml", err, errlen);
}

TEST(report_settings_keys)
{
	struct rpt_settings s;
	char err[512];

	ASSERT_OK(load(&s, "db: host=/run/pg dbname=x\nout: /srv/reports\nsmtp_url: smtp://localhost\n"
	               "smtp_from: stats@example.org\nsmtp_user: u\nsmtp_password_file: /etc/pw\n"
	               "federation_to: a@b.c, d@e.f\nmail_delay: 2d\n", err, sizeof err));
	ASSERT_STREQ(s.db, "host=/run/pg dbname=x");
	ASSERT_STREQ(s.out, "/srv/reports");
	ASSERT_STREQ(s.smtp_user, "u");
	ASSERT_STREQ(s.smtp_password_file, "/etc/pw");
	ASSERT_EQ(s.mail_delay, RPT_DEFAULT_MAIL_DELAY);
	ASSERT_OK(rpt_settings_check_mail(&s, err, sizeof err));
	ASSERT_EQ(s.mail_delay, 2 * 86400);
	rpt_settings_fini(&s);
	/* An empty document is no settings at all. */
	ASSERT_OK(load(&s, "", err, sizeof err));
	ASSERT(s.db == NULL && s.out == NULL);
	rpt_settings_fini(&s);
}

TEST(report_settings_errors)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "db: x\nsmtp_urll: y\n", "report.yaml:2: unknown key 'smtp_urll'" },
		{ "out: /a\nout: /b\n", "report.yaml:2:" },
		{ "db:\n  host: x\n", "report.yaml:" },
		{ "db: \"\"\n", "report.yaml:1: db: empty value" },
		{ "out: ''\n", "report.yaml:1: out: empty value" },
		{ "- a\n- b\n", "report.yaml:" },
	};
	struct rpt_settings s;
	char err[512];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASSERT_ERR(load(&s, bad[i].text, err, sizeof err), ES_ECONFIG);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			unit_fail(__FILE__, __LINE__, "'%s': message '%s', want '%s...'", bad[i].text, err,
			          bad[i].want);
		rpt_settings_fini(&s);
	}
	/* A file that cannot be read. */
	rpt_settings_init(&s);
	ASSERT_ERR(rpt_settings_load_file(&s, unit_tmp("none.yaml"), err, sizeof err), -ENOENT);
	rpt_settings_fini(&s);
}

TEST(report_settings_mail_checked_only_for_mail)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "db: x\n", "report.yaml: smtp_url: required for --mail" },
		{ "smtp_url: http://x\n", "report.yaml:1: smtp_url: not an smtp:// or smtps:// URL" },
		{ "smtp_url: smtp://x\n", "report.yaml: smtp_from: required for --mail" },
		{ "smtp_url: smtp://x\nsmtp_from: nobody\n", "report.yaml:2: smtp_from: not an e-mail address" },
		{ "smtp_url: smtp://x\nsmtp_from: a@b\nfederation_to: a@b, c\n",
		  "report.yaml:3: federation_to: not a comma-separated list" },
		{ "smtp_url: smtp://x\nsmtp_from: a@b\nfederation_to: a@b,\n",
		  "report.yaml:3: federation_to: empty address after ','" },
		{ "smtp_url: smtp://x\nsmtp_from: a@b\nmail_delay: soon\n", "report.yaml:3: mail_delay: not a duration" },
		{ "smtp_url: smtp://x\nsmtp_from: a@b\nmail_delay: 400d\n", "report.yaml:3: mail_delay: more than 366 days" },
	};
	struct rpt_settings s;
	char err[512];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* Loading accepts them: the mail keys are checked only with --mail. */
		ASSERT_OK(load(&s, bad[i].text, err, sizeof err));
		ASSERT_ERR(rpt_settings_check_mail(&s, err, sizeof err), ES_ECONFIG);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			unit_fail(__FILE__, __LINE__, "'%s': message '%s', want '%s...'", bad[i].text, err,
			          bad[i].want);
		rpt_settings_fini(&s);
	}
}

TEST(report_periods)
{
	static const char *const bad_months[] = {
		"2025-13", "2025-00", "2025-1", "25-01", "2025/01", "0000-01", "2025-01x", "", "2025",
	};
	static const char *const bad_years[] = { "0000", "25", "20255", "2025-01", "abcd", "" };
	struct rpt_period p, q;
	char name[RPT_PERIOD_NAME], day[RPT_DAY_TEXT];

	for (size_t i = 0; i < sizeof bad_months / sizeof bad_months[0]; i++)
		if (rpt_period_parse_month(bad_months[i], &p) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "month '%s' accepted", bad_months[i]);
	for (size_t i = 0; i < sizeof bad_years / sizeof bad_years[0]; i++)
		if (rpt_period_parse_year(bad_years[i], &p) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "year '%s' accepted", bad_years[i]);
	ASSERT_OK(rpt_period_parse_month("2024-02", &p));
	rpt_period_name(&p, name);
	ASSERT_STREQ(name, "2024-02");
	ASSERT_EQ(rpt_period_days(&p), 29);
	rpt_period_day(&p, 28, day);
	ASSERT_STREQ(day, "2024-02-29");
	ASSERT_EQ(rpt_period_day_index(&p, "2024-02-29"), 28);
	ASSERT_EQ(rpt_period_day_index(&p, "2024-03-01"), -1);
	ASSERT_EQ(rpt_period_day_index(&p, "2024-02-30"), -1);
	rpt_period_prev(&p, &q);
	rpt_period_name(&q, name);
	ASSERT_STREQ(name, "2024-01");
	rpt_period_prev(&q, &q);
	rpt_period_name(&q, name);
	ASSERT_STREQ(name, "2023-12");
	rpt_period_year_before(&p, &q);
	rpt_period_name(&q, name);
	ASSERT_STREQ(name, "2023-02");
	ASSERT_OK(rpt_period_parse("2024", &p));
	ASSERT_EQ(p.kind, RPT_YEAR);
	ASSERT_EQ(rpt_period_days(&p), 366);
	ASSERT_EQ(rpt_period_months(&p), 12);
	rpt_period_day(&p, 365, day);
	ASSERT_STREQ(day, "2024-12-31");
	rpt_period_day(&p, 59, day);
	ASSERT_STREQ(day, "2024-02-29");
	ASSERT_EQ(rpt_period_day_index(&p, "2024-03-01"), 60);
	rpt_month_day(rpt_period_first(&p) + 12, day);
	ASSERT_STREQ(day, "2025-01-01");
	/* Complete: the whole period lies before today (UTC). */
	{
		struct tm tm = { .tm_year = 2025 - 1900, .tm_mon = 0, .tm_mday = 1 };
		time_t jan1 = timegm(&tm);

		ASSERT_EQ(rpt_period_complete(&p, jan1), 1);
		ASSERT_EQ(rpt_period_complete(&p, jan1 - 1), 0);
		ASSERT_OK(rpt_period_parse("2024-12", &q));
		ASSERT_EQ(rpt_period_complete(&q, jan1), 1);
		ASSERT_EQ(rpt_period_complete(&q, jan1 - 1), 0);
	}
}

TEST(report_csv_and_json)
{
	struct rpt_report r;
	struct rpt_row nodes[1], nets[1];
	unsigned char covered[31] = { [0] = 1, [2] = 1 };
	jsonw_t w;
	char *t;
	size_t len;

	jsonw_init(&w, 0);
	rpt_csv_field(&w, "plain");
	jsonw_lit(&w, ",");
	rpt_csv_field(&w, "a,\"b\"\nc");
	t = jsonw_take(&w, &len);
	ASSERT_STREQ(t, "plain,\"a,\"\"b\"\"\nc\"");
	free(t);

	memset(&r, 0, sizeof r);
	ASSERT_OK(rpt_period_parse("2025-01", &r.period));
	memset(nodes, 0, sizeof nodes);
	memset(nets, 0, sizeof nets);
	nodes[0].a = (char *)"N,1";
	nodes[0].f.reqs = 5;
	nodes[0].covered = covered;
	nodes[0].days_covered = 2;
	r.nodes.v = nodes;
	r.nodes.n = 1;
	nets[0].a = (char *)"Other";
	nets[0].b = (char *)"Other";
	nets[0].restricted = 1;
	r.networks.v = nets;
	r.networks.n = 1;
	snprintf(r.stamp, sizeof r.stamp, "abc");
	r.trend_first = rpt_period_first(&r.period) - 23;
	rpt_emit_csv(&w, &r, RPT_CSV_NODES);
	t = jsonw_take(&w, &len);
	ASSERT(strstr(t, "\n\"N,1\",5,0,0,0,0,31,2,2025-01-02 2025-01-04 2025-01-05 ") != NULL);
	free(t);
	rpt_emit_csv(&w, &r, RPT_CSV_TREND);
	t = jsonw_take(&w, &len);
	ASSERT(strncmp(t, "month,nb_reqs,nb_successful_reqs,bytes,clients\n2023-02,0,0,0,0\n", 63) == 0);
	ASSERT(strstr(t, "\n2025-01,0,0,0,0\n") != NULL);
	free(t);
	rpt_emit_json(&w, &r, "2025-02-01T00:00:00Z");
	t = jsonw_take(&w, &len);
	ASSERT(strstr(t, "\"period\": \"2025-01\", \"kind\": \"month\"") != NULL);
	ASSERT(strstr(t, "\"start\": \"2025-01-01\", \"end\": \"2025-01-31\"") != NULL);
	ASSERT(strstr(t, "\"stamp\": \"abc\"") != NULL);
	ASSERT(strstr(t, "\"days_expected\": 31, \"days_covered\": 2, \"missing_days\": [\"2025-01-02\", \"2025-01-04\"") != NULL);
	ASSERT(strstr(t, "\"node\": \"Other\", \"network\": \"Other\"") != NULL);
	ASSERT(strstr(t, "\"restricted\": true}") != NULL);
	ASSERT(strstr(t, "\"previous\": null") != NULL);
	/* The federation has no station table. */
	ASSERT(strstr(t, "\"stations\"") == NULL);
	free(t);
	jsonw_fini(&w);
}
