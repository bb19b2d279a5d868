#include "config.h"

#include "unit.h"

/* Tests of the request module are added by its owner. */
typedef int unit_request_placeholder;
