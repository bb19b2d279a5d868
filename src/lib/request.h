#ifndef ES_REQUEST_H
#define ES_REQUEST_H
/* Filled in by its module owner. */
#endif
