#include "config.h"

#include "unit.h"

/* Tests of the payload module are added by its owner. */
typedef int unit_payload_placeholder;
