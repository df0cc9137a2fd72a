/* A minimal JSON reader for the golden vectors (objects, arrays, strings without escapes, integers, true/false).
 * Test-only code: it reads a whole file into a fixed node pool. */
#ifndef JSON_MINI_H
#define JSON_MINI_H
#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_BOOL } json_kind;

typedef struct json_node {
    json_kind kind;
    const char *key;    /* member name inside an object, else NULL */
    const char *string; /* JSON_STRING */
    long long number;   /* JSON_NUMBER, JSON_BOOL */
    struct json_node *first_child;
    struct json_node *next;
} json_node;

/* Parse a file; returns the root or NULL (with a message on stderr). Memory lives until the process ends. */
json_node *json_load(const char *path);
json_node *json_get(const json_node *object, const char *key);
size_t json_length(const json_node *array);
/* Decode a hex string member into out (capacity); returns the byte count or -1. */
long json_hex_string(const char *hex, uint8_t *out, size_t capacity);
long json_hex(const json_node *object, const char *key, uint8_t *out, size_t capacity);

#endif
