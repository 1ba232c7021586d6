/*
 * module.c - pcapkit_tcpflow._core, the CPython binding of the C core.
 *
 * This is the only place (with the headers it includes) that knows Python.
 * It offers:
 *   Tracer       the per-packet part of pcapkit_tcpflow.TCP: reads a packet's
 *                fields, keeps the flow table, returns labels and dumpers.
 *                Opening a flow calls self._open_flow(label, protocol) to get
 *                its dumper; a FIN calls self._close_flow(label, frames).
 *   pcap_create  write a pcap global header (pcapkit_tcpflow's pcap dumper)
 *   pcap_append  append one record to a pcap file
 *
 * Multi-phase initialisation (PEP 489), module state, heap types.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "binding.h"



struct PyModuleDef tfpy_module;

core_state *tfpy_state_of_type(PyTypeObject *type)
{
    PyObject *module = PyType_GetModuleByDef(type, &tfpy_module);
    return module == NULL ? NULL : (core_state *)PyModule_GetState(module);
}

PyObject *tfpy_frames_tuple(const tf_flow_info *info)
{
    PyObject *tuple = PyTuple_New((Py_ssize_t)info->frame_count);
    tf_frame_iter it;
    uint64_t frame;
    Py_ssize_t i = 0;

    if (tuple == NULL)
        return NULL;
    tf_frames_begin(info, &it);
    while (i < (Py_ssize_t)info->frame_count && tf_frames_next(&it, &frame)) {
        PyObject *n = frame <= LONG_MAX ? PyLong_FromLong((long)frame)
                                        : PyLong_FromUnsignedLongLong(frame);
        if (n == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i++, n);
    }
    if (i != (Py_ssize_t)info->frame_count) {
        Py_DECREF(tuple);
        PyErr_SetString(PyExc_SystemError, "frame numbers of a flow were released");
        return NULL;
    }
    /* A tuple of ints cannot be part of a cycle: the collector would untrack
     * it on its first pass; doing it now spares that pass over every one. */
    PyObject_GC_UnTrack(tuple);
    return tuple;
}

/* Index(fpout=fpout, index=frames, label=label) */
PyObject *tfpy_make_index(core_state *st, PyObject *fpout, PyObject *frames, PyObject *label)
{
    PyObject *obj, *map = NULL, *rev = NULL;

    if (st->index_factory == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "pcapkit_tcpflow._core._set_defaults() was not called");
        return NULL;
    }
    if (st->index_type == NULL)
        return PyObject_CallFunctionObjArgs(st->index_factory, fpout, frames, label, NULL);
    /* what _compat.index_factory() checked equal to the constructor's */
    obj = PyBaseObject_Type.tp_new((PyTypeObject *)st->index_type, st->empty_tuple, NULL);
    if (obj == NULL)
        return NULL;
    map = PyDict_New();
    rev = PyDict_New();
    if (map == NULL || rev == NULL || PyObject_GenericSetAttr(obj, st->s_map, map) < 0
        || PyObject_GenericSetAttr(obj, st->s_map_reverse, rev) < 0
        || PyObject_GenericSetAttr(obj, st->s_fpout, fpout) < 0
        || PyObject_GenericSetAttr(obj, st->s_index, frames) < 0
        || PyObject_GenericSetAttr(obj, st->s_label, label) < 0)
        Py_CLEAR(obj);
    Py_XDECREF(map);
    Py_XDECREF(rev);
    return obj;
}

/* Every core status becomes a Python exception here and nowhere else. */
PyObject *tfpy_raise_status(tf_status st, PyObject *filename)
{
    switch (st) {
    case TF_OK:
        PyErr_SetString(PyExc_SystemError, "raise_status called with TF_OK");
        break;
    case TF_ERR_NOMEM:
        PyErr_NoMemory();
        break;
    case TF_ERR_IO:
        if (filename != NULL)
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, filename);
        else
            PyErr_SetFromErrno(PyExc_OSError);
        break;
    case TF_ERR_INVALID:
        PyErr_SetString(PyExc_ValueError, tf_strerror(st));
        break;
    case TF_ERR_LIMIT:
        PyErr_SetString(PyExc_OverflowError, tf_strerror(st));
        break;
    default:
        PyErr_SetString(PyExc_RuntimeError, tf_strerror(st));
        break;
    }
    return NULL;
}

/* ------------------------------------------------------------ pcap writer */

static int parse_format(PyObject *linktype, PyObject *big, PyObject *nsec, tf_pcap_format *fmt)
{
    unsigned long lt;

    if (!PyLong_Check(linktype)) {
        PyErr_Format(PyExc_TypeError, "linktype must be an int, not %.100s", Py_TYPE(linktype)->tp_name);
        return -1;
    }
    lt = PyLong_AsUnsignedLong(linktype);
    if (lt == (unsigned long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "linktype must be in 0..2**32-1, not %R", linktype);
        return -1;
    }
    if (lt > 0xffffffffUL) {
        PyErr_Format(PyExc_ValueError, "linktype must be in 0..2**32-1, not %R", linktype);
        return -1;
    }
    fmt->linktype = (uint32_t)lt;
    fmt->big_endian = PyObject_IsTrue(big);
    fmt->nanosecond = PyObject_IsTrue(nsec);
    if (fmt->big_endian < 0 || fmt->nanosecond < 0)
        return -1;
    return 0;
}

PyDoc_STRVAR(pcap_create_doc,
"pcap_create($module, path, linktype, big_endian, nanosecond, /)\n--\n\n"
"Create (truncate) a pcap file and write its global header.");

static PyObject *pcap_create(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *path = NULL;
    tf_pcap_format fmt;
    tf_status status;

    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "pcap_create() takes exactly 4 arguments");
        return NULL;
    }
    if (parse_format(args[1], args[2], args[3], &fmt) < 0)
        return NULL;
    if (!PyUnicode_FSConverter(args[0], &path))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    status = tf_pcap_create(PyBytes_AS_STRING(path), &fmt);
    Py_END_ALLOW_THREADS
    if (status != TF_OK) {
        tfpy_raise_status(status, args[0]);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(pcap_append_doc,
"pcap_append($module, path, linktype, big_endian, nanosecond, ts_sec, ts_nsec, origlen, data, /)\n--\n\n"
"Append one record to a pcap file; ts_nsec is the fraction of the second in\n"
"nanoseconds (truncated to microseconds in a microsecond file).");

static PyObject *pcap_append(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *path = NULL;
    tf_pcap_format fmt;
    tf_status status;
    long long ts_sec;
    unsigned long ts_nsec, origlen;
    Py_buffer data;

    (void)module;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "pcap_append() takes exactly 8 arguments");
        return NULL;
    }
    if (parse_format(args[1], args[2], args[3], &fmt) < 0)
        return NULL;
    ts_sec = PyLong_AsLongLong(args[4]);
    if (ts_sec == -1 && PyErr_Occurred())
        return NULL;
    ts_nsec = PyLong_AsUnsignedLong(args[5]);
    if (ts_nsec == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    origlen = PyLong_AsUnsignedLong(args[6]);
    if (origlen == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (ts_sec < 0 || ts_sec > 0xffffffffLL || ts_nsec >= 1000000000UL) {
        PyErr_Format(PyExc_ValueError,
                     "timestamp %lld.%09lu cannot be stored in a pcap record", ts_sec, ts_nsec);
        return NULL;
    }
    if (origlen > 0xffffffffUL) {
        PyErr_SetString(PyExc_ValueError, "original length does not fit 32 bits");
        return NULL;
    }
    if (PyObject_GetBuffer(args[7], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if ((unsigned long long)data.len > 0xffffffffULL) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "packet data longer than 2**32-1 bytes");
        return NULL;
    }
    if (!PyUnicode_FSConverter(args[0], &path)) {
        PyBuffer_Release(&data);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    status = tf_pcap_append(PyBytes_AS_STRING(path), &fmt, (int64_t)ts_sec, (uint32_t)ts_nsec,
                            (uint32_t)origlen, data.buf, (uint32_t)data.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    Py_DECREF(path);
    if (status != TF_OK)
        return tfpy_raise_status(status, args[0]);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------- label text hooks */

PyDoc_STRVAR(float_repr_doc, "_float_repr($module, x, /)\n--\n\nrepr() of a float, computed by the C core.");

static PyObject *hook_float_repr(PyObject *module, PyObject *arg)
{
    char out[TF_FLOAT_TEXT_MAX];
    double x = PyFloat_AsDouble(arg);

    (void)module;
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    tf_float_repr(x, out);
    return PyUnicode_FromString(out);
}

PyDoc_STRVAR(time_repr_doc,
"_time_repr($module, sec, nsec, /)\n--\n\nrepr(float(sec + nsec/10**9)) computed exactly by the C core.");

static PyObject *hook_time_repr(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    char out[TF_FLOAT_TEXT_MAX];
    long long sec;
    unsigned long nsec;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_time_repr() takes 2 arguments");
        return NULL;
    }
    sec = PyLong_AsLongLong(args[0]);
    if (sec == -1 && PyErr_Occurred())
        return NULL;
    nsec = PyLong_AsUnsignedLong(args[1]);
    if (nsec == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (sec < 0 || nsec >= 1000000000UL) {
        PyErr_SetString(PyExc_ValueError, "need sec >= 0 and nsec < 10**9");
        return NULL;
    }
    tf_time_repr((int64_t)sec, (uint32_t)nsec, NULL, out);
    return PyUnicode_FromString(out);
}

PyDoc_STRVAR(address_text_doc,
"_address_text($module, packed, ipv4_mapped_dotted=False, /)\n--\n\n"
"Text of a 4- or 16-byte address as the C core writes it in labels.");

static PyObject *hook_address_text(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    char out[TF_ADDRESS_TEXT_MAX];
    uint8_t addr[16] = {0};
    tf_label_style style = {0};
    Py_ssize_t len;

    (void)module;
    if (nargs < 1 || nargs > 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_address_text(packed: bytes, ipv4_mapped_dotted=False)");
        return NULL;
    }
    len = PyBytes_GET_SIZE(args[0]);
    if (len != 4 && len != 16) {
        PyErr_SetString(PyExc_ValueError, "packed address must be 4 or 16 bytes");
        return NULL;
    }
    if (nargs == 2) {
        style.ipv4_mapped_dotted = PyObject_IsTrue(args[1]);
        if (style.ipv4_mapped_dotted < 0)
            return NULL;
    }
    memcpy(addr, PyBytes_AS_STRING(args[0]), (size_t)len);
    tf_address_text(len == 4 ? TF_FAMILY_IPV4 : TF_FAMILY_IPV6, addr, &style, out);
    return PyUnicode_FromString(out);
}

/* ------------------------------------------------------------------ module */

/* Whether this Python prints IPv4-mapped IPv6 addresses dotted. */
static int mapped_style(core_state *st)
{
    PyObject *addr = PyObject_CallFunction(st->ipv6_type, "s", "::ffff:1.2.3.4");
    PyObject *text = addr ? PyObject_Str(addr) : NULL;

    Py_XDECREF(addr);
    if (text == NULL)
        return -1;
    st->style.ipv4_mapped_dotted = PyUnicode_CompareWithASCIIString(text, "::ffff:1.2.3.4") == 0;
    Py_DECREF(text);
    return 0;
}

PyDoc_STRVAR(set_defaults_doc,
"_set_defaults($module, index_factory, index_type, null_dumper, /)\n--\n\n"
"What Tracer's default hooks use: index_factory(fpout, index, label) makes an\n"
"Index; index_type, when not None, is the Index class whose records may be\n"
"built by setting __map__, __map_reverse__, fpout, index and label on a bare\n"
"instance; null_dumper is the dumper class of no output, made only when a\n"
"flow's dumper is asked for.");

static PyObject *set_defaults(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    core_state *st = (core_state *)PyModule_GetState(module);

    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_set_defaults() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!PyCallable_Check(args[0]) || (args[1] != Py_None && !PyType_Check(args[1]))
        || !PyType_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "_set_defaults(index_factory: callable, index_type: type | None, "
                        "null_dumper: type)");
        return NULL;
    }
    Py_XSETREF(st->index_factory, Py_NewRef(args[0]));
    Py_XSETREF(st->index_type, args[1] == Py_None ? NULL : Py_NewRef(args[1]));
    Py_XSETREF(st->null_dumper, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"_float_repr", (PyCFunction)hook_float_repr, METH_O, float_repr_doc},
    {"_time_repr", (PyCFunction)(void (*)(void))hook_time_repr, METH_FASTCALL, time_repr_doc},
    {"_address_text", (PyCFunction)(void (*)(void))hook_address_text, METH_FASTCALL, address_text_doc},
    {"_set_defaults", (PyCFunction)(void (*)(void))set_defaults, METH_FASTCALL, set_defaults_doc},
    {"pcap_create", (PyCFunction)(void (*)(void))pcap_create, METH_FASTCALL, pcap_create_doc},
    {"pcap_append", (PyCFunction)(void (*)(void))pcap_append, METH_FASTCALL, pcap_append_doc},
    {NULL, NULL, 0, NULL},
};

static PyObject *import_attr(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module);
    PyObject *attr;

    if (m == NULL)
        return NULL;
    attr = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return attr;
}

static int core_exec(PyObject *module)
{
    core_state *st = (core_state *)PyModule_GetState(module);

#define INTERN(field, text)                                   \
    do {                                                      \
        st->field = PyUnicode_InternFromString(text);         \
        if (st->field == NULL)                                \
            return -1;                                        \
    } while (0)
    INTERN(s_protocol, "protocol");
    INTERN(s_index, "index");
    INTERN(s_fin, "fin");
    INTERN(s_src, "src");
    INTERN(s_dst, "dst");
    INTERN(s_srcport, "srcport");
    INTERN(s_dstport, "dstport");
    INTERN(s_timestamp, "timestamp");
    INTERN(s_ip, "_ip");
    INTERN(s_scope_id, "_scope_id");
    INTERN(s_open_flow, "_open_flow");
    INTERN(s_close_flow, "_close_flow");
    INTERN(s_empty, "");
    INTERN(s_colon, ":");
    INTERN(s_dot, ".");
    INTERN(s_callback_fn, "__callback_fn__");
    INTERN(s_append, "append");
    INTERN(s_map, "__map__");
    INTERN(s_map_reverse, "__map_reverse__");
    INTERN(s_fpout, "fpout");
    INTERN(s_label, "label");
#undef INTERN
    st->empty_tuple = PyTuple_New(0);
    st->dumper_kwnames = Py_BuildValue("(ssss)", "fname", "protocol", "byteorder", "nanosecond");
    if (st->empty_tuple == NULL || st->dumper_kwnames == NULL)
        return -1;

    st->ipv4_type = import_attr("ipaddress", "IPv4Address");
    st->ipv6_type = import_attr("ipaddress", "IPv6Address");
    st->ip_address = import_attr("ipaddress", "ip_address");
    st->urandom = import_attr("os", "urandom");
    if (st->ipv4_type == NULL || st->ipv6_type == NULL || st->ip_address == NULL || st->urandom == NULL)
        return -1;
    if (!PyType_Check(st->ipv4_type) || !PyType_Check(st->ipv6_type)) {
        PyErr_SetString(PyExc_ImportError, "ipaddress.IPv4Address/IPv6Address are not types");
        return -1;
    }
    st->ipv4_ip_offset = tfpy_slot_offset(st->ipv4_type, "_ip");
    st->ipv6_ip_offset = tfpy_slot_offset(st->ipv6_type, "_ip");
    st->ipv6_scope_offset = tfpy_slot_offset(st->ipv6_type, "_scope_id");
    if (mapped_style(st) < 0)
        return -1;

    st->tracer_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &tfpy_tracer_spec, NULL);
    if (st->tracer_type == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "Tracer", (PyObject *)st->tracer_type) < 0)
        return -1;
    st->default_open_flow = PyObject_GetAttrString((PyObject *)st->tracer_type, "_open_flow");
    st->default_close_flow = PyObject_GetAttrString((PyObject *)st->tracer_type, "_close_flow");
    if (st->default_open_flow == NULL || st->default_close_flow == NULL)
        return -1;
    st->session_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &tfpy_session_spec, NULL);
    if (st->session_type == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "Session", (PyObject *)st->session_type) < 0)
        return -1;
    st->format_error = PyErr_NewExceptionWithDoc(
        "pcapkit_tcpflow._core.FormatError",
        "The input is not a readable pcap/pcapng capture.", PyExc_ValueError, NULL);
    if (st->format_error == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "FormatError", st->format_error) < 0)
        return -1;
    if (PyModule_AddIntConstant(module, "PCAP_SNAPLEN", TF_PCAP_SNAPLEN) < 0)
        return -1;
    return 0;
}

static int core_traverse(PyObject *module, visitproc visit, void *arg)
{
    core_state *st = (core_state *)PyModule_GetState(module);

    Py_VISIT(st->tracer_type);
    Py_VISIT(st->session_type);
    Py_VISIT(st->format_error);
    Py_VISIT(st->ipv4_type);
    Py_VISIT(st->ipv6_type);
    Py_VISIT(st->ip_address);
    Py_VISIT(st->urandom);
    Py_VISIT(st->default_open_flow);
    Py_VISIT(st->default_close_flow);
    Py_VISIT(st->index_factory);
    Py_VISIT(st->index_type);
    Py_VISIT(st->null_dumper);
    return 0;
}

static int core_clear(PyObject *module)
{
    core_state *st = (core_state *)PyModule_GetState(module);

    Py_CLEAR(st->tracer_type);
    Py_CLEAR(st->session_type);
    Py_CLEAR(st->format_error);
    Py_CLEAR(st->ipv4_type);
    Py_CLEAR(st->ipv6_type);
    Py_CLEAR(st->ip_address);
    Py_CLEAR(st->urandom);
    Py_CLEAR(st->s_protocol);
    Py_CLEAR(st->s_index);
    Py_CLEAR(st->s_fin);
    Py_CLEAR(st->s_src);
    Py_CLEAR(st->s_dst);
    Py_CLEAR(st->s_srcport);
    Py_CLEAR(st->s_dstport);
    Py_CLEAR(st->s_timestamp);
    Py_CLEAR(st->s_ip);
    Py_CLEAR(st->s_scope_id);
    Py_CLEAR(st->s_open_flow);
    Py_CLEAR(st->s_close_flow);
    Py_CLEAR(st->s_empty);
    Py_CLEAR(st->s_colon);
    Py_CLEAR(st->s_dot);
    Py_CLEAR(st->s_callback_fn);
    Py_CLEAR(st->s_append);
    Py_CLEAR(st->s_map);
    Py_CLEAR(st->s_map_reverse);
    Py_CLEAR(st->s_fpout);
    Py_CLEAR(st->s_label);
    Py_CLEAR(st->empty_tuple);
    Py_CLEAR(st->dumper_kwnames);
    Py_CLEAR(st->default_open_flow);
    Py_CLEAR(st->default_close_flow);
    Py_CLEAR(st->index_factory);
    Py_CLEAR(st->index_type);
    Py_CLEAR(st->null_dumper);
    return 0;
}

static void core_free(void *module)
{
    core_clear((PyObject *)module);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

struct PyModuleDef tfpy_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pcapkit_tcpflow._core",
    .m_doc = "C core of pcapkit_tcpflow: flow table and pcap writer.",
    .m_size = sizeof(core_state),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&tfpy_module);
}
