#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H

// jansson is no longer HemeraJSON's parser (issue 11: its per-parse arena lived behind a
// thread-local in a `static inline` function here, which a release build duplicated into every
// object file, and jansson's number rules could not be made right). It stays as the JSON fuzz
// target's independent oracle (Fuzz/JSONFuzz, `make fuzz-json`), outside the package graph.
//
// Only stateless wrappers belong in this header: every `static inline` function is copied into
// each object file that uses it, so a `static` variable here would exist once per object file.

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

// jansson's type queries are macros, which Swift cannot call: wrap them.
static inline json_type CJansson_typeof(const json_t *json) { return json_typeof(json); }
static inline json_t *CJansson_incref(json_t *json) { return json_incref(json); }
static inline void CJansson_decref(json_t *json) { json_decref(json); }
static inline int CJansson_is_object(const json_t *json) { return json_is_object(json); }
static inline int CJansson_is_array(const json_t *json) { return json_is_array(json); }
static inline int CJansson_is_string(const json_t *json) { return json_is_string(json); }
static inline int CJansson_is_integer(const json_t *json) { return json_is_integer(json); }
static inline int CJansson_is_real(const json_t *json) { return json_is_real(json); }
static inline int CJansson_is_number(const json_t *json) { return json_is_number(json); }
static inline int CJansson_is_true(const json_t *json) { return json_is_true(json); }
static inline int CJansson_is_false(const json_t *json) { return json_is_false(json); }
static inline int CJansson_is_null(const json_t *json) { return json_is_null(json); }

/// The offset of the first NUL byte in `buffer`, or -1. jansson's reader stops at a NUL byte
/// as at the end of the input, so `{}\0garbage` would parse: the input is checked first.
static inline long CJansson_find_nul(const void *buffer, size_t length) {
    const char *found = (const char *)memchr(buffer, 0, length);
    return found == NULL ? -1 : (long)(found - (const char *)buffer);
}

/// Where and why `CJansson_loadb` failed: `json_error_t` with its fixed-size text flattened.
typedef struct CJansson_error {
    int line;
    int column;
    int position;
    int code;
    char text[JSON_ERROR_TEXT_LENGTH];
} CJansson_error;

/// `json_loadb`, with the error copied into a struct Swift can read field by field.
static inline json_t *CJansson_loadb(const char *buffer, size_t length, size_t flags,
                                     CJansson_error *error) {
    json_error_t e;
    json_t *root = json_loadb(buffer, length, flags, &e);
    if (root == NULL && error != NULL) {
        error->line = e.line;
        error->column = e.column;
        error->position = e.position;
        error->code = (int)json_error_code(&e);
        memcpy(error->text, e.text, JSON_ERROR_TEXT_LENGTH);
        error->text[JSON_ERROR_TEXT_LENGTH - 1] = 0;
    }
    return root;
}

#endif
