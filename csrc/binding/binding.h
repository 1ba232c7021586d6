/*
 * binding.h - what the files of the CPython binding share: the module state
 * and the one place core statuses become Python exceptions.
 */
#ifndef TFPY_BINDING_H
#define TFPY_BINDING_H

#include <Python.h>

#include "../core/tf.h"

typedef struct {
    PyTypeObject *tracer_type;
    PyTypeObject *session_type;
    PyObject *format_error;
    PyObject *ipv4_type;
    PyObject *ipv6_type;
    PyObject *ip_address;
    PyObject *urandom;
    PyObject *s_protocol;
    PyObject *s_index;
    PyObject *s_fin;
    PyObject *s_src;
    PyObject *s_dst;
    PyObject *s_srcport;
    PyObject *s_dstport;
    PyObject *s_timestamp;
    PyObject *s_ip;
    PyObject *s_scope_id;
    PyObject *s_open_flow;
    PyObject *s_close_flow;
    PyObject *s_empty;
    PyObject *s_colon;
    PyObject *s_dot;
    PyObject *s_callback_fn;
    PyObject *s_append;
    PyObject *s_map;
    PyObject *s_map_reverse;
    PyObject *s_fpout;
    PyObject *s_label;
    PyObject *empty_tuple;
    /* ('fname', 'protocol', 'byteorder', 'nanosecond'): a dumper's keywords */
    PyObject *dumper_kwnames;
    /* Tracer's own _open_flow and _close_flow (the defaults done in C) */
    PyObject *default_open_flow;
    PyObject *default_close_flow;
    /* Set by _set_defaults(): (fpout, index, label) -> Index; the Index type
     * when records may be built by setting their attributes (NULL: call the
     * factory); the dumper class of "no output", made only when asked for. */
    PyObject *index_factory;
    PyObject *index_type;
    PyObject *null_dumper;
    /* How this Python prints addresses (IPv4-mapped IPv6 changed in 3.13). */
    tf_label_style style;
    /* Offsets of the __slots__ "_ip" and "_scope_id" in ipaddress objects of
     * the exact types (-1: unknown, use getattr). */
    Py_ssize_t ipv4_ip_offset;
    Py_ssize_t ipv6_ip_offset;
    Py_ssize_t ipv6_scope_offset;
} core_state;

extern struct PyModuleDef tfpy_module;
extern PyType_Spec tfpy_tracer_spec;
extern PyType_Spec tfpy_session_spec;

/* Module state of the module that defined type (or one of its bases). */
core_state *tfpy_state_of_type(PyTypeObject *type);

/* Offset of a T_OBJECT_EX __slots__ member of a type, or -1. */
Py_ssize_t tfpy_slot_offset(PyObject *type, const char *name);

/* Sets the Python exception for a core status; returns NULL. */
PyObject *tfpy_raise_status(tf_status st, PyObject *filename);

/* Index(fpout=fpout, index=frames, label=label), as _set_defaults() set up. */
PyObject *tfpy_make_index(core_state *st, PyObject *fpout, PyObject *frames, PyObject *label);

/* A flow's frame numbers as a new tuple of ints. */
PyObject *tfpy_frames_tuple(const tf_flow_info *info);

#endif /* TFPY_BINDING_H */
