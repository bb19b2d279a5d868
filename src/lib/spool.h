#ifndef ES_SPOOL_H
#define ES_SPOOL_H
/* Filled in by its module owner. */
#endif
