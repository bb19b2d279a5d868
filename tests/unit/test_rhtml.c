/* Tests of rhtml.h: the report pages from report.json, and every bad-input path. */
#include "unit.h"

#include "rhtml.h"

TEST(rhtml_not_json)
{
	char err[256], *out = (char *)1;
	size_t n = 1;

	ASSERT_ERR(rhtml_report("{", 1, &out, &n, err, sizeof(err)), ES_EFORMAT);
	ASSERT(out == NULL && n == 0);
	ASSERT(strstr(err, "not JSON"));
}
