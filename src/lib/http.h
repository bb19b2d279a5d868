#ifndef ES_HTTP_H
#define ES_HTTP_H
/* Filled in by its module owner. */
#endif
