#include "config.h"

#include "unit.h"

/* Tests of the netx module are added by its owner. */
typedef int unit_netx_placeholder;
