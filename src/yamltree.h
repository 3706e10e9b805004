/* SPDX-License-Identifier: MIT */
/* yamltree.h — a small YAML node tree built from libyaml events (private to
 * the spec module).
 *
 * libyaml's document API expands nothing but accepts aliases, so a walk over
 * its graph can be made to visit a node billions of times; here anchors,
 * aliases and tags are refused outright, nesting depth and node count are
 * capped, and duplicate mapping keys are an error.  Every node keeps its
 * source (a file path or a command-line override) and 1-based line and
 * column, so every later validation error can say where.
 */
#ifndef RS_YAMLTREE_H
#define RS_YAMLTREE_H

#include <stddef.h>

#include "regsweep/common.h"

typedef enum yt_type { YT_SCALAR, YT_SEQ, YT_MAP } yt_type;

typedef struct yt_node {
    yt_type type;
    int line, col;
    const char *src;            /* not owned: outlives the tree           */
    char *value;                /* scalar text (owned), NUL-terminated     */
    int quoted;                 /* scalar was quoted or a block scalar     */
    size_t n;                   /* children; maps: key, value, key, ...    */
    size_t cap;
    struct yt_node **kids;
} yt_node;

/* Parses one YAML document.  *root is NULL for an empty document.  Limits:
 * max_depth nesting levels, max_nodes nodes. */
rs_status rs_yt_parse(const char *text, size_t len, const char *src,
                   int max_depth, int max_nodes, yt_node **root,
                   rs_error_t *err);

void rs_yt_free(yt_node *n);

/* The value of key in a mapping, or NULL. */
yt_node *rs_yt_get(const yt_node *map, const char *key);

/* A new empty mapping node at the given location (NULL on no memory). */
yt_node *rs_yt_new_map(const char *src, int line, int col);

/* Sets map[key] = value (taking ownership of value; replaces and frees an
 * existing value).  Returns 0, or -1 on no memory. */
int rs_yt_set(yt_node *map, const char *key, yt_node *value, const char *src,
           int line, int col);

/* Removes key and its value from a mapping (freeing both).  Returns 1 if it
 * was there, 0 if not. */
int rs_yt_remove(yt_node *map, const char *key);

/* Writes the tree as one YAML document into *text (malloc'ed, NUL-
 * terminated, *len bytes; the caller frees it).  Quoted scalars stay
 * quoted, so the text parses back to the same tree.  RS_ENOMEM, or
 * RS_EINTERNAL if libyaml refuses a node. */
rs_status rs_yt_emit(const yt_node *root, char **text, size_t *len,
                     rs_error_t *err);

#endif
