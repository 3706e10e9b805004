/* SPDX-License-Identifier: MIT */
/* yamltree.c — YAML text to a yt_node tree, via libyaml's event parser. */
#include "yamltree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static yt_node *node_new(yt_type type, const char *src, yaml_mark_t mark)
{
    yt_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = type;
    n->src = src;
    n->line = (int)mark.line + 1;
    n->col = (int)mark.column + 1;
    return n;
}

yt_node *rs_yt_new_map(const char *src, int line, int col)
{
    yt_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = YT_MAP;
    n->src = src;
    n->line = line;
    n->col = col;
    return n;
}

void rs_yt_free(yt_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        rs_yt_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

static int push_kid(yt_node *parent, yt_node *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? 2 * parent->cap : 8;
        yt_node **k = realloc(parent->kids, cap * sizeof *k);
        if (!k)
            return -1;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

yt_node *rs_yt_get(const yt_node *map, const char *key)
{
    if (!map || map->type != YT_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->kids[i]->value, key) == 0)
            return map->kids[i + 1];
    return NULL;
}

int rs_yt_remove(yt_node *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->kids[i]->value, key) == 0) {
            rs_yt_free(map->kids[i]);
            rs_yt_free(map->kids[i + 1]);
            memmove(map->kids + i, map->kids + i + 2,
                    (map->n - i - 2) * sizeof *map->kids);
            map->n -= 2;
            return 1;
        }
    return 0;
}

int rs_yt_set(yt_node *map, const char *key, yt_node *value, const char *src,
           int line, int col)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->kids[i]->value, key) == 0) {
            rs_yt_free(map->kids[i + 1]);
            map->kids[i + 1] = value;
            return 0;
        }
    yt_node *k = calloc(1, sizeof *k);
    if (!k)
        return -1;
    k->type = YT_SCALAR;
    k->src = src;
    k->line = line;
    k->col = col;
    k->value = strdup(key);
    if (!k->value || push_kid(map, k)) {
        rs_yt_free(k);
        return -1;
    }
    if (push_kid(map, value)) {
        map->n--;
        rs_yt_free(k);
        return -1;
    }
    return 0;
}

/* Keys one mapping may have (see attach). */
#define YT_MAX_MAP_KEYS 1000

/* The parse stack: open sequences and mappings. */
typedef struct builder {
    const char *src;
    const char *text;
    size_t len;
    int max_depth, max_nodes, n_nodes, depth;
    yt_node *stack[64];
    yt_node *root;
    rs_error_t *err;
} builder;

static rs_status fail_at(builder *b, yaml_mark_t mark, const char *msg)
{
    return rs_error_set(b->err, RS_EINPUT, b->src, (int)mark.line + 1,
                        (int)mark.column + 1, "%s", msg);
}

/* Adds a finished node to the open container (or makes it the root). */
static rs_status attach(builder *b, yt_node *n, yaml_mark_t mark)
{
    if (++b->n_nodes > b->max_nodes) {
        rs_yt_free(n);
        return rs_error_set(b->err, RS_EINPUT, b->src, (int)mark.line + 1,
                            (int)mark.column + 1,
                            "spec too large: more than %d YAML nodes",
                            b->max_nodes);
    }
    if (b->depth == 0) {
        b->root = n;
        return RS_OK;
    }
    yt_node *parent = b->stack[b->depth - 1];
    if (parent->type == YT_MAP && parent->n % 2 == 0) {
        /* n is a key: keys must be scalars and unique.  The uniqueness
         * check is pairwise, so the keys of one mapping are capped: no
         * spec section has more than a dozen, and 50,000 keys (what the
         * node cap allows) took seconds, minutes under ASan. */
        if (parent->n / 2 >= YT_MAX_MAP_KEYS) {
            rs_status st = rs_error_set(b->err, RS_EINPUT, b->src, n->line,
                                        n->col, "a mapping with more than %d "
                                        "keys", YT_MAX_MAP_KEYS);
            rs_yt_free(n);
            return st;
        }
        if (n->type != YT_SCALAR) {
            rs_status st = fail_at(b, mark, "mapping keys must be plain "
                                            "scalars");
            rs_yt_free(n);
            return st;
        }
        for (size_t i = 0; i < parent->n; i += 2)
            if (strcmp(parent->kids[i]->value, n->value) == 0) {
                rs_status st = rs_error_set(
                    b->err, RS_EINPUT, b->src, n->line, n->col,
                    "duplicate key '%s' (first given at line %d, column %d)",
                    n->value, parent->kids[i]->line, parent->kids[i]->col);
                rs_yt_free(n);
                return st;
            }
    }
    if (push_kid(parent, n)) {
        rs_yt_free(n);
        return rs_error_set(b->err, RS_ENOMEM, b->src, 0, 0,
                            "out of memory parsing the spec");
    }
    return RS_OK;
}

static rs_status check_node_props(builder *b, yaml_char_t *anchor,
                                  yaml_char_t *tag, int implicit,
                                  yaml_mark_t mark)
{
    if (anchor)
        return fail_at(b, mark, "anchors (&name) are not supported in "
                                "specs: write the value out");
    if (tag && !implicit)
        return fail_at(b, mark, "YAML tags (!tag) are not supported in specs");
    return RS_OK;
}

/* libyaml's reader errors (bad UTF-8, control characters such as NUL) carry
 * a byte offset instead of a mark: turn it into a 1-based line and a column
 * counted in characters (UTF-8 continuation bytes do not start one), as
 * libyaml's own marks count. */
static rs_status reader_error(builder *b, const yaml_parser_t *p)
{
    size_t end = p->problem_offset < b->len ? p->problem_offset : b->len;
    int line = 1, col = 1;
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)b->text[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    const char *problem = p->problem ? p->problem : "unreadable input";
    if (strstr(problem, "control characters"))
        return rs_error_set(b->err, RS_EINPUT, b->src, line, col,
                            "control character 0x%02x (byte %zu) is not "
                            "allowed in a spec: expected UTF-8 text",
                            (unsigned)p->problem_value, p->problem_offset);
    return rs_error_set(b->err, RS_EINPUT, b->src, line, col,
                        "not valid UTF-8 text: %s (byte %zu)", problem,
                        p->problem_offset);
}

/* libyaml's message for a tab in indentation is generic; say what it is. */
static rs_status syntax_error(builder *b, yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)   /* not the spec's fault */
        return rs_error_set(b->err, RS_ENOMEM, b->src, 0, 0,
                            "out of memory parsing the spec");
    yaml_mark_t m = p->problem_mark;
    const char *ctx = p->context ? p->context : "";
    if (m.index < b->len && b->text[m.index] == '\t')
        return rs_error_set(b->err, RS_EINPUT, b->src, (int)m.line + 1,
                            (int)m.column + 1,
                            "tab character: YAML indentation must use spaces");
    if (p->error == YAML_READER_ERROR)
        return reader_error(b, p);
    return rs_error_set(b->err, RS_EINPUT, b->src, (int)m.line + 1,
                        (int)m.column + 1, "YAML syntax error: %s%s%s",
                        p->problem ? p->problem : "malformed input",
                        *ctx ? " " : "", ctx);
}

static rs_status handle_event(builder *b, yaml_event_t *ev, int *n_docs,
                              int *done)
{
    yaml_mark_t mark = ev->start_mark;
    rs_status st;
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_NO_EVENT:
        return RS_OK;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return RS_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++*n_docs > 1)
            return fail_at(b, mark, "a spec must be a single YAML document "
                                    "(found a second '---')");
        return RS_OK;
    case YAML_DOCUMENT_END_EVENT:
        return RS_OK;
    case YAML_ALIAS_EVENT:
        return fail_at(b, mark, "aliases (*name) are not supported in specs: "
                                "write the value out");
    case YAML_SCALAR_EVENT: {
        if ((st = check_node_props(b, ev->data.scalar.anchor,
                                   ev->data.scalar.tag,
                                   ev->data.scalar.plain_implicit ||
                                       ev->data.scalar.quoted_implicit,
                                   mark)))
            return st;
        yt_node *n = node_new(YT_SCALAR, b->src, mark);
        if (!n)
            return rs_error_set(b->err, RS_ENOMEM, b->src, 0, 0,
                                "out of memory parsing the spec");
        n->value = malloc(ev->data.scalar.length + 1);
        if (!n->value) {
            rs_yt_free(n);
            return rs_error_set(b->err, RS_ENOMEM, b->src, 0, 0,
                                "out of memory parsing the spec");
        }
        memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
        n->value[ev->data.scalar.length] = '\0';
        if (strlen(n->value) != ev->data.scalar.length) {
            rs_yt_free(n);
            return fail_at(b, mark, "NUL character in a string");
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return attach(b, n, mark);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
        if ((st = check_node_props(
                 b, is_seq ? ev->data.sequence_start.anchor
                           : ev->data.mapping_start.anchor,
                 is_seq ? ev->data.sequence_start.tag
                        : ev->data.mapping_start.tag,
                 is_seq ? ev->data.sequence_start.implicit
                        : ev->data.mapping_start.implicit,
                 mark)))
            return st;
        if (b->depth >= b->max_depth)
            return rs_error_set(b->err, RS_EINPUT, b->src,
                                (int)mark.line + 1, (int)mark.column + 1,
                                "nesting deeper than %d levels",
                                b->max_depth);
        yt_node *n = node_new(is_seq ? YT_SEQ : YT_MAP, b->src, mark);
        if (!n)
            return rs_error_set(b->err, RS_ENOMEM, b->src, 0, 0,
                                "out of memory parsing the spec");
        b->stack[b->depth++] = n;
        return RS_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        yt_node *n = b->stack[--b->depth];
        return attach(b, n, (yaml_mark_t){0, (size_t)n->line - 1,
                                          (size_t)n->col - 1});
    }
    }
    return RS_OK;
}

rs_status rs_yt_parse(const char *text, size_t len, const char *src,
                   int max_depth, int max_nodes, yt_node **root,
                   rs_error_t *err)
{
    builder b = {.src = src, .text = text, .len = len,
                 .max_depth = max_depth < 64 ? max_depth : 63,
                 .max_nodes = max_nodes, .err = err};
    yaml_parser_t p;
    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return rs_error_set(err, RS_ENOMEM, src, 0, 0,
                            "out of memory: cannot initialise the YAML "
                            "parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    rs_status st = RS_OK;
    int n_docs = 0, done = 0;
    while (!done && st == RS_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            st = syntax_error(&b, &p);
            break;
        }
        st = handle_event(&b, &ev, &n_docs, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (b.depth > 0)
        rs_yt_free(b.stack[--b.depth]);
    if (st) {
        rs_yt_free(b.root);
        return st;
    }
    *root = b.root;
    return RS_OK;
}

/* ---- emitting ------------------------------------------------------------- */

typedef struct emit_buf {
    char *text;
    size_t len, cap;
    int no_memory;
} emit_buf;

static int emit_write(void *data, unsigned char *bytes, size_t n)
{
    emit_buf *b = data;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *t = realloc(b->text, cap);
        if (!t) {
            b->no_memory = 1;
            return 0;
        }
        b->text = t;
        b->cap = cap;
    }
    memcpy(b->text + b->len, bytes, n);
    b->len += n;
    b->text[b->len] = '\0';
    return 1;
}

static int all_scalars(const yt_node *n)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->kids[i]->type != YT_SCALAR)
            return 0;
    return 1;
}

/* One node's events.  Scalars keep their quoting (a quoted "1" stays a
 * string, an unquoted 1 a number); sequences of scalars are written in
 * flow style ([1, 64, 64, 1]), everything else in block style. */
static int emit_node(yaml_emitter_t *e, const yt_node *n, int flow)
{
    yaml_event_t ev;
    int ok;
    if (n->type == YT_SCALAR) {
        const char *v = n->value ? n->value : "";
        ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)v,
                                          (int)strlen(v), 1, 1,
                                          n->quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                    : YAML_ANY_SCALAR_STYLE);
        return ok && yaml_emitter_emit(e, &ev);
    }
    int kids_flow = flow || (n->type == YT_SEQ && all_scalars(n));
    if (n->type == YT_SEQ)
        ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                kids_flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    else
        ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                kids_flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    if (!ok || !yaml_emitter_emit(e, &ev))
        return 0;
    for (size_t i = 0; i < n->n; i++)
        if (!emit_node(e, n->kids[i], kids_flow))
            return 0;
    ok = n->type == YT_SEQ ? yaml_sequence_end_event_initialize(&ev)
                           : yaml_mapping_end_event_initialize(&ev);
    return ok && yaml_emitter_emit(e, &ev);
}

rs_status rs_yt_emit(const yt_node *root, char **text, size_t *len,
                     rs_error_t *err)
{
    *text = NULL;
    *len = 0;
    emit_buf b = {0};
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
    yaml_emitter_set_output(&e, emit_write, &b);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&e, &ev);
    if (ok && root) {
        ok = emit_node(&e, root, 0);
    } else if (ok) {   /* an empty document: an empty mapping */
        yt_node empty = {.type = YT_MAP};
        ok = emit_node(&e, &empty, 1);
    }
    ok = ok && yaml_document_end_event_initialize(&ev, 1) &&
         yaml_emitter_emit(&e, &ev) && yaml_stream_end_event_initialize(&ev) &&
         yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e);
    const char *problem = e.problem;
    /* an event that could not be initialised (no error recorded) or an
     * emitter error of class memory: out of memory, not a bug */
    int no_memory = b.no_memory || e.error == YAML_MEMORY_ERROR ||
                    e.error == YAML_NO_ERROR;
    yaml_emitter_delete(&e);
    if (!ok) {
        free(b.text);
        if (no_memory)
            return rs_error_set(err, RS_ENOMEM, NULL, 0, 0, "out of memory");
        return rs_error_set(err, RS_EINTERNAL, NULL, 0, 0,
                            "cannot write the spec as YAML: %s",
                            problem ? problem : "libyaml emitter error");
    }
    *text = b.text;
    *len = b.len;
    return RS_OK;
}
