#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H

#include <jansson.h>

// jansson's type queries are macros, which Swift cannot call: wrap them.
static inline json_type CJansson_typeof(const json_t *json) { return json_typeof(json); }
static inline json_t *CJansson_incref(json_t *json) { return json_incref(json); }
static inline void CJansson_decref(json_t *json) { json_decref(json); }

#endif
