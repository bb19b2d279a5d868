#ifndef ES_JSONW_H
#define ES_JSONW_H
/* Filled in by its module owner. */
#endif
