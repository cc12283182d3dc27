#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

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

// MARK: Parse arenas
//
// A parse allocates a few dozen small blocks (nodes, strings, hash tables) that all die together.
// While an arena is current on a thread (only during json_loadb, and during the json_decref of a
// tree that overflowed it), jansson's allocations on that thread are carved from one block, and
// frees inside it do nothing, so a tree that fit need not be walked to be freed at all.
// Allocations that do not fit go to malloc. The allocator functions are installed process-wide
// (json_set_alloc_funcs); outside an arena they are plain malloc and free, so other jansson users
// in the process are unaffected unless they install allocator functions of their own. Only Sources/HemeraJSON/Jansson.swift calls these (the thread-local
// and the allocator functions must live in one translation unit).

typedef struct CJansson_arena {
    char *start;
    char *cursor;
    char *end;
    int overflowed;
    struct CJansson_arena *previous;
} CJansson_arena;

/// This thread's current arena (a function-local static, which Swift's importer emits).
static inline CJansson_arena **CJansson_current_arena_slot(void) {
    static __thread CJansson_arena *current;
    return &current;
}

static void *CJansson_arena_malloc(size_t size) {
    CJansson_arena *arena = *CJansson_current_arena_slot();
    if (arena != NULL) {
        size_t rounded = (size + 15) & ~(size_t)15;
        if ((size_t)(arena->end - arena->cursor) >= rounded) {
            void *result = arena->cursor;
            arena->cursor += rounded;
            return result;
        }
        arena->overflowed = 1;
    }
    return malloc(size);
}

static void CJansson_arena_free(void *pointer) {
    for (CJansson_arena *arena = *CJansson_current_arena_slot(); arena != NULL; arena = arena->previous) {
        if ((char *)pointer >= arena->start && (char *)pointer < arena->end) return;
    }
    free(pointer);
}

/// Routes jansson's allocations through the arena functions. Call once, before any parse.
static inline void CJansson_install_arena_allocator(void) {
    json_set_alloc_funcs(CJansson_arena_malloc, CJansson_arena_free);
}

/// Makes `arena` (over `capacity` bytes at `memory`) this thread's current arena.
static inline void CJansson_arena_begin(CJansson_arena *arena, void *memory, size_t capacity) {
    arena->start = (char *)memory;
    arena->cursor = (char *)memory;
    arena->end = (char *)memory + capacity;
    arena->overflowed = 0;
    arena->previous = *CJansson_current_arena_slot();
    *CJansson_current_arena_slot() = arena;
}

/// Makes `arena` current again, as it was left (to release a tree that overflowed it).
static inline void CJansson_arena_resume(CJansson_arena *arena) {
    arena->previous = *CJansson_current_arena_slot();
    *CJansson_current_arena_slot() = arena;
}

/// Restores the arena that was current before `arena`.
static inline void CJansson_arena_end(CJansson_arena *arena) {
    *CJansson_current_arena_slot() = arena->previous;
}

// MARK: Per-thread decoding state
//
// The decoder keeps one reusable state object per thread (Swift has no thread-locals of its
// own). The slot is read on every decode; the pthread key only exists so that the object is
// released when its thread exits. Only Sources/HemeraJSON/Decoder.swift calls these.

static inline void **CJansson_decoder_slot(void) {
    static __thread void *slot;
    return &slot;
}

static inline void CJansson_decoder_key_destructor(void *value);

static inline pthread_key_t *CJansson_decoder_key(void) {
    static pthread_key_t key;
    return &key;
}

static inline void (**CJansson_decoder_release_hook(void))(void *) {
    static void (*hook)(void *);
    return &hook;
}

static inline void CJansson_decoder_key_destructor(void *value) {
    *CJansson_decoder_slot() = NULL;
    void (*hook)(void *) = *CJansson_decoder_release_hook();
    if (value != NULL && hook != NULL) hook(value);
}

static inline void CJansson_decoder_key_create(void) {
    pthread_key_create(CJansson_decoder_key(), CJansson_decoder_key_destructor);
}

/// Stores `value` in this thread's slot; `release` is called with it when the thread exits.
static inline void CJansson_decoder_slot_set(void *value, void (*release)(void *)) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    *CJansson_decoder_release_hook() = release;
    pthread_once(&once, CJansson_decoder_key_create);
    pthread_setspecific(*CJansson_decoder_key(), value);
    *CJansson_decoder_slot() = value;
}

#endif
