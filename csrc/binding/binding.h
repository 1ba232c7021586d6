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

/* A flow's frame numbers as a new tuple of ints. */
PyObject *tfpy_frames_tuple(const tf_flow_info *info);

#endif /* TFPY_BINDING_H */
