#include "json_mini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *text;
    size_t at;
    const char *path;
} reader;

static void skip_space(reader *r) {
    while (r->text[r->at] == ' ' || r->text[r->at] == '\n' || r->text[r->at] == '\r' || r->text[r->at] == '\t') {
        r->at++;
    }
}

static json_node *fail(reader *r, const char *what) {
    fprintf(stderr, "%s: byte %zu: expected %s\n", r->path, r->at, what);
    return NULL;
}

static char *parse_string(reader *r) {
    char *start;
    if (r->text[r->at] != '"') {
        return NULL;
    }
    start = r->text + ++r->at;
    while (r->text[r->at] != '"' && r->text[r->at] != '\0') {
        if (r->text[r->at] == '\\') {
            return NULL; /* the vectors contain no escapes */
        }
        r->at++;
    }
    if (r->text[r->at] != '"') {
        return NULL;
    }
    r->text[r->at++] = '\0';
    return start;
}

static json_node *parse_value(reader *r);

static json_node *parse_container(reader *r, json_kind kind) {
    json_node *node = calloc(1, sizeof(*node)), *last = NULL;
    char close = kind == JSON_OBJECT ? '}' : ']';
    node->kind = kind;
    r->at++;
    skip_space(r);
    if (r->text[r->at] == close) {
        r->at++;
        return node;
    }
    for (;;) {
        const char *key = NULL;
        json_node *child;
        skip_space(r);
        if (kind == JSON_OBJECT) {
            key = parse_string(r);
            if (key == NULL) {
                return fail(r, "a member name");
            }
            skip_space(r);
            if (r->text[r->at++] != ':') {
                return fail(r, "':'");
            }
        }
        child = parse_value(r);
        if (child == NULL) {
            return NULL;
        }
        child->key = key;
        if (last) {
            last->next = child;
        } else {
            node->first_child = child;
        }
        last = child;
        skip_space(r);
        if (r->text[r->at] == ',') {
            r->at++;
            continue;
        }
        if (r->text[r->at] == close) {
            r->at++;
            return node;
        }
        return fail(r, "',' or a closing bracket");
    }
}

static json_node *parse_value(reader *r) {
    json_node *node;
    skip_space(r);
    switch (r->text[r->at]) {
    case '{': return parse_container(r, JSON_OBJECT);
    case '[': return parse_container(r, JSON_ARRAY);
    case '"':
        node = calloc(1, sizeof(*node));
        node->kind = JSON_STRING;
        node->string = parse_string(r);
        return node->string ? node : fail(r, "a string");
    case 't':
    case 'f':
        node = calloc(1, sizeof(*node));
        node->kind = JSON_BOOL;
        node->number = r->text[r->at] == 't';
        r->at += node->number ? 4 : 5;
        return node;
    default: {
        char *end;
        node = calloc(1, sizeof(*node));
        node->kind = JSON_NUMBER;
        node->number = strtoll(r->text + r->at, &end, 10);
        if (end == r->text + r->at) {
            return fail(r, "a value");
        }
        r->at = (size_t)(end - r->text);
        return node;
    }
    }
}

json_node *json_load(const char *path) {
    reader r;
    long size;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "%s: cannot open\n", path);
        return NULL;
    }
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    r.text = calloc((size_t)size + 1, 1);
    if (fread(r.text, 1, (size_t)size, file) != (size_t)size) {
        fclose(file);
        return NULL;
    }
    fclose(file);
    r.at = 0;
    r.path = path;
    return parse_value(&r);
}

json_node *json_get(const json_node *object, const char *key) {
    json_node *child;
    for (child = object->first_child; child; child = child->next) {
        if (child->key && strcmp(child->key, key) == 0) {
            return child;
        }
    }
    return NULL;
}

size_t json_length(const json_node *array) {
    size_t n = 0;
    const json_node *child;
    for (child = array->first_child; child; child = child->next) {
        n++;
    }
    return n;
}

long json_hex_string(const char *hex, uint8_t *out, size_t capacity) {
    size_t length = strlen(hex), i;
    if (length % 2 != 0 || length / 2 > capacity) {
        return -1;
    }
    for (i = 0; i < length / 2; i++) {
        unsigned value;
        if (sscanf(hex + 2 * i, "%2x", &value) != 1) {
            return -1;
        }
        out[i] = (uint8_t)value;
    }
    return (long)(length / 2);
}

long json_hex(const json_node *object, const char *key, uint8_t *out, size_t capacity) {
    const json_node *node = json_get(object, key);
    if (node == NULL || node->kind != JSON_STRING) {
        return -1;
    }
    return json_hex_string(node->string, out, capacity);
}
