/*
 * session.c - pcapkit_tcpflow._core.Session: one native tracing run.
 *
 *   Session(path, offset, out_dir, ext, big_endian, nanosecond,
 *           max_open_files, pcapkit_link_types_only, seed, ipv4_mapped_dotted=False,
 *           fail_alloc_at=0, frames_before=0)
 *   (fail_alloc_at: tests make the core's Nth allocation fail;
 *    frames_before: tests number the first record frames_before + 1)
 *   (ipv4_mapped_dotted: this Python prints ::ffff:1.2.3.4, as 3.13 does)
 *   step(n) -> 0 (more to read), 1 (end), or str (damaged file: message)
 *   finish() closes the output files; flows() lists, in pcapkit's order,
 *   (label, frames, closed, first_sec, first_nsec, last_sec, last_nsec,
 *    wire_bytes, captured_bytes, syn, fin, rst, src, srcport, dst, dstport)
 *   with src/dst packed addresses (4 or 16 bytes); frames, traced, info,
 *   offset (bytes of the file read so far).
 *
 * step() runs the C loop with the GIL released; the caller steps in chunks
 * and checks for signals between them.  A session is used by one thread at
 * a time (a second caller gets RuntimeError instead of racing).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

/* Test hook: the core's allocator that fails its Nth call (0: never). */
typedef struct {
    uint64_t calls;
    uint64_t fail_at;
} fail_counter;

static void *counted_malloc(void *ctx, size_t n)
{
    fail_counter *c = ctx;
    return ++c->calls == c->fail_at ? NULL : malloc(n);
}

static void *counted_realloc(void *ctx, void *p, size_t n)
{
    fail_counter *c = ctx;
    return ++c->calls == c->fail_at ? NULL : realloc(p, n);
}

static void counted_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

typedef struct {
    PyObject_HEAD
    tf_session *session;
    int busy;
    int finished;
    fail_counter counter;
    tf_allocator alloc;
} SessionObject;

static PyObject *Session_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "offset", "out_dir", "ext", "big_endian", "nanosecond",
                             "max_open_files", "pcapkit_link_types_only", "seed",
                             "ipv4_mapped_dotted", "fail_alloc_at", "frames_before", NULL};
    core_state *st = tfpy_state_of_type(type);
    PyObject *path = NULL, *pathobj, *outobj, *out = NULL;
    const char *ext = NULL;
    long long offset = 0;
    int big = 0, nsec = 0, strict = 0, mapped = 0;
    unsigned int max_open = 64;
    unsigned long long seed = 0, fail_at = 0, frames_before = 0;
    tf_session_options opt;
    tf_reader *reader = NULL;
    SessionObject *self = NULL;
    char errbuf[TF_ERRBUF_SIZE];
    tf_status status;
    FILE *fp;

    if (st == NULL)
        return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OLOzppIpK|pKK", kwlist, &pathobj, &offset,
                                     &outobj, &ext, &big, &nsec, &max_open, &strict, &seed,
                                     &mapped, &fail_at, &frames_before))
        return NULL;
    if (!PyUnicode_FSConverter(pathobj, &path))
        return NULL;
    if (outobj != Py_None && !PyUnicode_FSConverter(outobj, &out))
        goto error;

    memset(&opt, 0, sizeof(opt));
    opt.out_dir = out ? PyBytes_AS_STRING(out) : NULL;
    opt.ext = ext;
    opt.pcap.big_endian = big;
    opt.pcap.nanosecond = nsec;
    opt.max_open_files = max_open ? max_open : 1;
    opt.decode.pcapkit_link_types_only = strict;
    opt.style.ipv4_mapped_dotted = mapped;
    opt.frames_before = frames_before;

    self = (SessionObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        goto error;
    self->counter.fail_at = fail_at;
    self->alloc.malloc_fn = counted_malloc;
    self->alloc.realloc_fn = counted_realloc;
    self->alloc.free_fn = counted_free;
    self->alloc.ctx = &self->counter;

    Py_BEGIN_ALLOW_THREADS
    fp = fopen(PyBytes_AS_STRING(path), "rb");
    if (fp != NULL && offset > 0 && fseeko(fp, (off_t)offset, SEEK_SET) != 0) {
        fclose(fp);
        fp = NULL;
    }
    status = TF_ERR_IO;
    if (fp != NULL)
        status = tf_reader_open(fp, &self->alloc, &reader, errbuf);
    Py_END_ALLOW_THREADS
    if (fp == NULL) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, pathobj);
        Py_CLEAR(self);
        goto error;
    }
    if (status != TF_OK) {
        if (status == TF_ERR_FORMAT)
            PyErr_Format(st->format_error, "%s: %s", PyBytes_AS_STRING(path), errbuf);
        else if (status == TF_ERR_IO)
            PyErr_Format(PyExc_OSError, "%s: %s", PyBytes_AS_STRING(path), errbuf);
        else
            tfpy_raise_status(status, pathobj);
        Py_CLEAR(self);
        goto error;
    }
    status = tf_session_new(reader, &opt, &self->alloc, (uint64_t)seed, &self->session);
    if (status != TF_OK) {
        tfpy_raise_status(status, NULL);
        Py_CLEAR(self);
        goto error;
    }
error:
    Py_XDECREF(path);
    Py_XDECREF(out);
    return (PyObject *)self;
}

static void Session_dealloc(SessionObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    tf_session_free(self->session);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int check_usable(SessionObject *self)
{
    if (self->session == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "session is not open");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "session is in use by another thread");
        return -1;
    }
    return 0;
}

/* OSError(errno, message): the errno picks the subclass, as in open(). */
static PyObject *raise_io(int err, const char *message)
{
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", err, message);

    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *Session_step(SessionObject *self, PyObject *arg)
{
    core_state *st = tfpy_state_of_type(Py_TYPE(self));
    unsigned long long n = PyLong_AsUnsignedLongLong(arg);
    char errbuf[TF_ERRBUF_SIZE];
    tf_status status;
    int err = 0;

    if (n == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (st == NULL || check_usable(self) < 0)
        return NULL;
    if (self->finished)
        return PyLong_FromLong(1);
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    status = tf_session_step(self->session, (uint64_t)n, errbuf);
    err = errno;
    Py_END_ALLOW_THREADS
    self->busy = 0;
    switch (status) {
    case TF_OK:
        return PyLong_FromLong(0);
    case TF_END:
        self->finished = 1;
        return PyLong_FromLong(1);
    case TF_ERR_FORMAT:
        self->finished = 1;
        return PyUnicode_FromString(errbuf);
    case TF_ERR_IO:
        return raise_io(err, errbuf);
    default:
        if (errbuf[0]) {
            PyErr_SetString(status == TF_ERR_NOMEM ? PyExc_MemoryError : PyExc_ValueError, errbuf);
            return NULL;
        }
        return tfpy_raise_status(status, NULL);
    }
}

static PyObject *Session_finish(SessionObject *self, PyObject *Py_UNUSED(ignored))
{
    char errbuf[TF_ERRBUF_SIZE];
    tf_status status;
    int err = 0;

    if (check_usable(self) < 0)
        return NULL;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    status = tf_session_finish(self->session, errbuf);
    err = errno;
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (status != TF_OK)
        return raise_io(err, errbuf);
    Py_RETURN_NONE;
}

/* One flow as a tuple; what goes in it depends on the row kind. */
enum row_kind { ROW_FULL, ROW_STATS, ROW_RECORD };

static PyObject *stats_values(const tf_session *s, tf_flow_id id, const tf_flow_info *info)
{
    tf_flow_stats fs;

    tf_session_stats(s, id, &fs);
    return Py_BuildValue("(OLILIKKIIIy#Hy#H)", info->open ? Py_False : Py_True,
                         (long long)fs.first_sec, (unsigned int)fs.first_nsec,
                         (long long)fs.last_sec, (unsigned int)fs.last_nsec,
                         (unsigned long long)fs.wire_bytes,
                         (unsigned long long)fs.captured_bytes, (unsigned int)fs.syn,
                         (unsigned int)fs.fin, (unsigned int)fs.rst, (const char *)info->key->src,
                         (Py_ssize_t)(info->key->src_family == TF_FAMILY_IPV4 ? 4 : 16),
                         (unsigned short)info->key->src_port, (const char *)info->key->dst,
                         (Py_ssize_t)(info->key->dst_family == TF_FAMILY_IPV4 ? 4 : 16),
                         (unsigned short)info->key->dst_port);
}

static PyObject *flow_row(const tf_session *s, tf_flow_id id, enum row_kind kind)
{
    tf_flow_info info;
    PyObject *head, *stats, *row;
    char text[TF_LABEL_MAX];
    size_t n;

    tf_flowtable_info(tf_session_flowtable(s), id, &info);
    if (kind == ROW_STATS)
        return stats_values(s, id, &info);
    n = tf_session_label(s, id, text);
    head = Py_BuildValue("(s#N)", text, (Py_ssize_t)n, tfpy_frames_tuple(&info));
    if (head == NULL)
        return NULL;
    stats = stats_values(s, id, &info); /* (label, frames) + the statistics */
    row = stats != NULL ? PySequence_Concat(head, stats) : NULL;
    Py_DECREF(head);
    Py_XDECREF(stats);
    return row;
}

/* What flow_rows puts in its list: rows of a kind, or (ROW_RECORD) Index
 * records whose file is f'{prefix}{label}{ext}' (None when prefix is None). */
typedef struct {
    enum row_kind kind;
    core_state *st;   /* ROW_RECORD only */
    PyObject *prefix;
    PyObject *ext;
} row_spec;

static PyObject *index_record(const tf_session *s, tf_flow_id id, const row_spec *spec)
{
    tf_flow_info info;
    PyObject *label, *frames = NULL, *fpout = NULL, *index = NULL;
    char text[TF_LABEL_MAX];
    size_t n;

    tf_flowtable_info(tf_session_flowtable(s), id, &info);
    n = tf_session_label(s, id, text);
    label = PyUnicode_FromStringAndSize(text, (Py_ssize_t)n);
    if (label == NULL)
        return NULL;
    frames = tfpy_frames_tuple(&info);
    if (frames == NULL)
        goto done;
    fpout = spec->prefix == Py_None ? Py_NewRef(Py_None)
                                    : PyUnicode_FromFormat("%U%U%U", spec->prefix, label, spec->ext);
    if (fpout != NULL)
        index = tfpy_make_index(spec->st, fpout, frames, label);
done:
    Py_DECREF(label);
    Py_XDECREF(frames);
    Py_XDECREF(fpout);
    return index;
}

/* Puts the row of flow id at list[*k]; -1 with an exception on failure. */
static int put_row(PyObject *list, uint64_t *k, const tf_session *s, tf_flow_id id,
                   const row_spec *spec)
{
    PyObject *item;

    if (*k >= (uint64_t)PyList_GET_SIZE(list)) {
        PyErr_SetString(PyExc_SystemError, "flow table counts disagree");
        return -1;
    }
    item = spec->kind == ROW_RECORD ? index_record(s, id, spec) : flow_row(s, id, spec->kind);
    if (item == NULL)
        return -1;
    PyList_SET_ITEM(list, (Py_ssize_t)(*k)++, item);
    return 0;
}

/* Every flow's row: open ones in opening order, then closed ones in closing
 * order (pcapkit's order). */
static PyObject *flow_rows_spec(SessionObject *self, const row_spec *spec)
{
    const tf_flowtable *t;
    PyObject *list;
    uint64_t id, n, i, k = 0;

    if (check_usable(self) < 0)
        return NULL;
    t = tf_session_flowtable(self->session);
    n = tf_flowtable_flow_count(t);
    list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        return NULL;
    /* The walk makes Python objects, which may run Python code (a
     * collection's finalizers, the Index factory, another thread): the table
     * must not change under it, so step() is refused meanwhile. */
    self->busy = 1;
    for (id = 0; id < n; id++) {
        tf_flow_info info;
        tf_flowtable_info(t, id, &info);
        if (info.open && put_row(list, &k, self->session, id, spec) < 0)
            goto error;
    }
    for (i = 0; i < tf_flowtable_closed_count(t); i++)
        if (put_row(list, &k, self->session, tf_flowtable_closed_at(t, i), spec) < 0)
            goto error;
    if (k == n) { /* every flow is open or closed */
        self->busy = 0;
        return list;
    }
    PyErr_SetString(PyExc_SystemError, "flow table counts disagree");
error:
    self->busy = 0;
    Py_DECREF(list);
    return NULL;
}

static PyObject *flow_rows(SessionObject *self, enum row_kind kind)
{
    row_spec spec = {kind, NULL, NULL, NULL};

    return flow_rows_spec(self, &spec);
}

static PyObject *Session_indexes(SessionObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    row_spec spec = {ROW_RECORD, NULL, NULL, NULL};

    if (nargs != 2 || (args[0] != Py_None && !PyUnicode_Check(args[0]))
        || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "indexes(prefix: str | None, ext: str)");
        return NULL;
    }
    spec.st = tfpy_state_of_type(Py_TYPE(self));
    if (spec.st == NULL)
        return NULL;
    spec.prefix = args[0];
    spec.ext = args[1];
    return flow_rows_spec(self, &spec);
}

static PyObject *Session_get_closed_count(SessionObject *self, void *Py_UNUSED(closure))
{
    if (check_usable(self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(
        tf_flowtable_closed_count(tf_session_flowtable(self->session)));
}

static PyObject *Session_flows(SessionObject *self, PyObject *Py_UNUSED(ignored))
{
    return flow_rows(self, ROW_FULL);
}

static PyObject *Session_stats_rows(SessionObject *self, PyObject *Py_UNUSED(ignored))
{
    return flow_rows(self, ROW_STATS);
}

static PyObject *Session_get_frames(SessionObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(self->session ? tf_session_frames(self->session) : 0);
}

static PyObject *Session_get_traced(SessionObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(self->session ? tf_session_traced(self->session) : 0);
}

static PyObject *Session_get_allocations(SessionObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(self->counter.calls);
}

static PyObject *Session_get_clamped(SessionObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(self->session ? tf_session_clamped(self->session) : 0);
}

static PyObject *Session_get_offset(SessionObject *self, void *Py_UNUSED(closure))
{
    if (self->session == NULL || self->busy)
        return PyLong_FromLong(0);
    return PyLong_FromUnsignedLongLong(tf_reader_offset(tf_session_reader(self->session)));
}

static PyObject *Session_get_info(SessionObject *self, void *Py_UNUSED(closure))
{
    tf_capture_info info;

    if (check_usable(self) < 0)
        return NULL;
    tf_reader_info(tf_session_reader(self->session), &info);
    return Py_BuildValue("{s:s,s:s,s:O,s:k,s:k,s:(ii)}",
                         "format", info.format == TF_FORMAT_PCAP ? "pcap" : "pcapng",
                         "byteorder", info.big_endian ? "big" : "little",
                         "nanosecond", info.nanosecond ? Py_True : Py_False,
                         "linktype", (unsigned long)info.linktype,
                         "snaplen", (unsigned long)info.snaplen,
                         "version", (int)info.version_major, (int)info.version_minor);
}

static PyMethodDef Session_methods[] = {
    {"step", (PyCFunction)Session_step, METH_O,
     "step($self, n, /)\n--\n\nRead up to n records: 0 more to read, 1 end, or the message of a damaged file."},
    {"finish", (PyCFunction)Session_finish, METH_NOARGS, "finish($self, /)\n--\n\nClose the output files."},
    {"flows", (PyCFunction)Session_flows, METH_NOARGS,
     "flows($self, /)\n--\n\n(label, frames, closed, first_sec, first_nsec, last_sec, last_nsec, "
     "wire_bytes, captured_bytes, syn, fin, rst, src, srcport, dst, dstport) of every flow "
     "(src/dst packed, 4 or 16 bytes): open ones in opening order, then closed ones in closing "
     "order."},
    {"indexes", (PyCFunction)(void (*)(void))Session_indexes, METH_FASTCALL,
     "indexes($self, prefix, ext, /)\n--\n\nThe Index record of every flow, in flows() order; its "
     "fpout is f'{prefix}{label}{ext}', or None when prefix is None."},
    {"stats_rows", (PyCFunction)Session_stats_rows, METH_NOARGS,
     "stats_rows($self, /)\n--\n\nflows() without label and frames: (closed, first_sec, "
     "first_nsec, last_sec, last_nsec, wire_bytes, captured_bytes, syn, fin, rst, src, srcport, "
     "dst, dstport)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Session_getset[] = {
    {"frames", (getter)Session_get_frames, NULL, "Records read so far.", NULL},
    {"traced", (getter)Session_get_traced, NULL, "TCP segments traced so far.", NULL},
    {"allocations", (getter)Session_get_allocations, NULL,
     "Allocation calls the core has made (for fault-injection tests).", NULL},
    {"clamped", (getter)Session_get_clamped, NULL,
     "Records written with a time a pcap file cannot hold (clamped).", NULL},
    {"offset", (getter)Session_get_offset, NULL, "Bytes of the capture consumed so far.", NULL},
    {"closed_count", (getter)Session_get_closed_count, NULL,
     "Flows a FIN closed (the last ones of flows()).", NULL},
    {"info", (getter)Session_get_info, NULL, "The capture's global header fields.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Session_slots[] = {
    {Py_tp_new, Session_new},
    {Py_tp_dealloc, Session_dealloc},
    {Py_tp_methods, Session_methods},
    {Py_tp_getset, Session_getset},
    {Py_tp_doc, (void *)"A native tracing run over one capture file."},
    {0, NULL},
};

PyType_Spec tfpy_session_spec = {
    .name = "pcapkit_tcpflow._core.Session",
    .basicsize = sizeof(SessionObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Session_slots,
};
