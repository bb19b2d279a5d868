#include "config.h"

/* Filled in by its module owner. */
typedef int es_jsonw_placeholder;
