/*
 * tracer.c - pcapkit_tcpflow._core.Tracer, the per-packet part of
 * pcapkit_tcpflow.TCP: reads a packet's fields, keeps the flow table,
 * returns labels and dumpers.  Opening a flow calls
 * self._open_flow(label, protocol) for its dumper; a FIN calls
 * self._close_flow(label, frames).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <string.h>
#include <time.h>

#include "binding.h"

/* ------------------------------------------------------------------ Tracer */

/* What the tracer keeps of an open flow besides its table entry. */
typedef struct {
    PyObject *label;  /* str; NULL once the flow is closed */
    PyObject *dumper; /* NULL: the default "no output" dumper, made when asked for */
    PyObject *src;    /* address objects of the first packet (the flow's bufid) */
    PyObject *dst;
} flow_rec;

typedef struct {
    PyObject_HEAD
    core_state *st;
    tf_flowtable *table;
    flow_rec **recs;        /* flow id -> record, NULL once closed */
    size_t nrecs;
    size_t caprecs;
    PyObject *zones;        /* dict: IPv6 scope id -> zone number */
    PyObject *submit_cache; /* tuple or NULL */
    /* Packet types whose fields may be read from the instance dict (fast)
     * or may not (slow), remembered from the last check. */
    PyTypeObject *fast_type;
    PyTypeObject *slow_type;
    /* Thread inside trace(), 0 when none.  trace() holds the GIL except
     * while it calls back into Python (dumpers, hooks, callbacks); another
     * thread arriving then waits, so each trace() is atomic. */
    unsigned long owner;
    /* Output settings and closed flows, attributes of the Python subclass
     * (_fproot, _fdpext, _foutio, _endian, _nnsecd, _stream). */
    PyObject *fproot;
    PyObject *fdpext;
    PyObject *foutio;
    PyObject *endian;
    PyObject *nnsecd;
    PyObject *stream;
} TracerObject;

/* A packet being read: the object, and a dict its fields can be looked up
 * in directly (its instance dict, or itself when it is a dict) or NULL. */
typedef struct {
    PyObject *pkt;
    PyObject *dict;
    int is_dict;
} packet_view;

static PyObject *Tracer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    core_state *st = tfpy_state_of_type(type);
    TracerObject *self;
    PyObject *rnd;
    uint64_t seed = 0;
    tf_status status;

    (void)args;
    (void)kwargs;
    if (st == NULL)
        return NULL;
    rnd = PyObject_CallFunction(st->urandom, "i", 8);
    if (rnd == NULL)
        return NULL;
    if (!PyBytes_Check(rnd) || PyBytes_GET_SIZE(rnd) != 8) {
        Py_DECREF(rnd);
        PyErr_SetString(PyExc_RuntimeError, "os.urandom(8) did not return 8 bytes");
        return NULL;
    }
    memcpy(&seed, PyBytes_AS_STRING(rnd), 8);
    Py_DECREF(rnd);

    self = (TracerObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->st = st;
    self->zones = PyDict_New();
    if (self->zones == NULL)
        goto error;
    status = tf_flowtable_new(NULL, seed, &self->table);
    if (status != TF_OK) {
        tfpy_raise_status(status, NULL);
        goto error;
    }
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static int Tracer_traverse(TracerObject *self, visitproc visit, void *arg)
{
    size_t i;

    Py_VISIT(Py_TYPE(self));
    for (i = 0; i < self->nrecs; i++) {
        flow_rec *rec = self->recs[i];
        if (rec != NULL) {
            Py_VISIT(rec->label);
            Py_VISIT(rec->dumper);
            Py_VISIT(rec->src);
            Py_VISIT(rec->dst);
        }
    }
    Py_VISIT(self->zones);
    Py_VISIT(self->submit_cache);
    Py_VISIT(self->fast_type);
    Py_VISIT(self->slow_type);
    Py_VISIT(self->fproot);
    Py_VISIT(self->fdpext);
    Py_VISIT(self->foutio);
    Py_VISIT(self->endian);
    Py_VISIT(self->nnsecd);
    Py_VISIT(self->stream);
    return 0;
}

/* Drops the record of flow id (a closed flow keeps only its NULL slot). */
static void rec_drop(TracerObject *self, size_t id)
{
    flow_rec *rec = self->recs[id];

    if (rec == NULL)
        return;
    self->recs[id] = NULL;
    Py_CLEAR(rec->label);
    Py_CLEAR(rec->dumper);
    Py_CLEAR(rec->src);
    Py_CLEAR(rec->dst);
    PyMem_Free(rec);
}

static int Tracer_clear(TracerObject *self)
{
    size_t i;

    for (i = 0; i < self->nrecs; i++)
        rec_drop(self, i);
    Py_CLEAR(self->zones);
    Py_CLEAR(self->submit_cache);
    Py_CLEAR(self->fast_type);
    Py_CLEAR(self->slow_type);
    Py_CLEAR(self->fproot);
    Py_CLEAR(self->fdpext);
    Py_CLEAR(self->foutio);
    Py_CLEAR(self->endian);
    Py_CLEAR(self->nnsecd);
    Py_CLEAR(self->stream);
    return 0;
}

static void Tracer_dealloc(TracerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    Tracer_clear(self);
    PyMem_Free(self->recs);
    self->recs = NULL;
    self->nrecs = self->caprecs = 0;
    tf_flowtable_free(self->table);
    self->table = NULL;
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* The value of a packet field: an attribute, or a key of a mapping. */
static PyObject *get_field_slow(PyObject *pkt, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(pkt, name);

    if (value != NULL)
        return value;
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return NULL;
    PyErr_Clear();
    if (PyMapping_Check(pkt) && !PyUnicode_Check(pkt) && !PyBytes_Check(pkt)) {
        value = PyObject_GetItem(pkt, name);
        if (value != NULL)
            return value;
        if (!PyErr_ExceptionMatches(PyExc_KeyError) && !PyErr_ExceptionMatches(PyExc_IndexError)
            && !PyErr_ExceptionMatches(PyExc_TypeError))
            return NULL;
        PyErr_Clear();
    }
    PyErr_Format(PyExc_TypeError, "packet has no field %R", name);
    return NULL;
}

static PyObject *get_field(const packet_view *view, PyObject *name)
{
    if (view->dict != NULL) {
        PyObject *value = PyDict_GetItemWithError(view->dict, name);
        if (value != NULL)
            return Py_NewRef(value);
        if (PyErr_Occurred())
            return NULL;
        if (view->is_dict) {
            PyErr_Format(PyExc_TypeError, "packet has no field %R", name);
            return NULL;
        }
    }
    return get_field_slow(view->pkt, name);
}

/* Whether getattr(obj, name) of every field equals obj.__dict__[name] when
 * the key is there: generic attribute lookup and no class attribute of any
 * field name anywhere in the MRO. */
static int dict_readable_type(core_state *st, PyTypeObject *tp)
{
    PyObject *names[8];
    PyObject *mro = tp->tp_mro;
    Py_ssize_t i, j;

    names[0] = st->s_src;
    names[1] = st->s_dst;
    names[2] = st->s_srcport;
    names[3] = st->s_dstport;
    names[4] = st->s_fin;
    names[5] = st->s_index;
    names[6] = st->s_timestamp;
    names[7] = st->s_protocol;
    if (tp->tp_getattro != PyObject_GenericGetAttr || tp->tp_dictoffset == 0 || mro == NULL
        || !PyTuple_Check(mro))
        return 0;
    for (i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *dict = PyType_GetDict(base);
#else
        PyObject *dict = Py_XNewRef(base->tp_dict);
#endif
        if (dict == NULL)
            return 0;
        for (j = 0; j < 8; j++) {
            if (PyDict_GetItemWithError(dict, names[j]) != NULL || PyErr_Occurred()) {
                Py_DECREF(dict);
                PyErr_Clear();
                return 0;
            }
        }
        Py_DECREF(dict);
    }
    return 1;
}

/* Fills a packet view; returns -1 with an exception set on failure. */
static int view_packet(TracerObject *self, PyObject *pkt, packet_view *view)
{
    PyTypeObject *tp = Py_TYPE(pkt);

    view->pkt = pkt;
    view->dict = NULL;
    view->is_dict = 0;
    if (PyDict_Check(pkt)) {
        view->dict = Py_NewRef(pkt);
        view->is_dict = 1;
        return 0;
    }
    if (tp != self->fast_type) {
        if (tp == self->slow_type)
            return 0;
        if (!dict_readable_type(self->st, tp)) {
            Py_XSETREF(self->slow_type, (PyTypeObject *)Py_NewRef(tp));
            return 0;
        }
        Py_XSETREF(self->fast_type, (PyTypeObject *)Py_NewRef(tp));
    }
    view->dict = PyObject_GenericGetDict(pkt, NULL);
    if (view->dict == NULL)
        return -1;
    if (!PyDict_Check(view->dict))
        Py_CLEAR(view->dict);
    return 0;
}

static int get_port(const packet_view *pkt, PyObject *name, uint16_t *out)
{
    PyObject *value = get_field(pkt, name);
    PyObject *number;
    long port;

    if (value == NULL)
        return -1;
    if (PyLong_CheckExact(value)) {
        port = PyLong_AsLong(value);
    } else {
        if (!PyIndex_Check(value)) {
            PyErr_Format(PyExc_TypeError, "packet field %R must be an int, not %.100s", name,
                         Py_TYPE(value)->tp_name);
            Py_DECREF(value);
            return -1;
        }
        number = PyNumber_Index(value);
        if (number == NULL) {
            Py_DECREF(value);
            return -1;
        }
        port = PyLong_AsLong(number);
        Py_DECREF(number);
    }
    if (port == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            Py_DECREF(value);
            return -1;
        }
        PyErr_Clear();
        port = -1;
    }
    if (port < 0 || port > 65535) {
        PyErr_Format(PyExc_ValueError, "packet field %R must be a port number in 0..65535, not %R",
                     name, value);
        Py_DECREF(value);
        return -1;
    }
    Py_DECREF(value);
    *out = (uint16_t)port;
    return 0;
}

static int get_frame_number(const packet_view *pkt, PyObject *name, uint64_t *out)
{
    PyObject *value = get_field(pkt, name);
    PyObject *number;
    unsigned long long n;

    if (value == NULL)
        return -1;
    if (PyLong_CheckExact(value)) {
        number = value;
    } else {
        if (!PyIndex_Check(value)) {
            PyErr_Format(PyExc_TypeError, "packet field %R must be an int, not %.100s", name,
                         Py_TYPE(value)->tp_name);
            Py_DECREF(value);
            return -1;
        }
        number = PyNumber_Index(value);
        Py_DECREF(value);
        if (number == NULL)
            return -1;
    }
    n = PyLong_AsUnsignedLongLong(number);
    if (n == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "packet field %R must be a frame number in 0..2**64-1, not %R",
                     name, number);
        Py_DECREF(number);
        return -1;
    }
    Py_DECREF(number);
    *out = (uint64_t)n;
    return 0;
}

/* Writes the integer `ip` as a big-endian address of len bytes. */
static int int_to_address(PyObject *ip, uint8_t *out, size_t len)
{
    if (!PyLong_Check(ip)) {
        PyErr_SetString(PyExc_TypeError, "address object holds a non-integer value");
        return -1;
    }
    if (len == 4) {
        unsigned long v = PyLong_AsUnsignedLong(ip);
        if (v == (unsigned long)-1 && PyErr_Occurred())
            return -1;
        if (v > 0xffffffffUL) {
            PyErr_SetString(PyExc_ValueError, "IPv4 address out of range");
            return -1;
        }
        out[0] = (uint8_t)(v >> 24);
        out[1] = (uint8_t)(v >> 16);
        out[2] = (uint8_t)(v >> 8);
        out[3] = (uint8_t)v;
        return 0;
    }
#if PY_VERSION_HEX >= 0x030D0000
    {
        Py_ssize_t need = PyLong_AsNativeBytes(ip, out, (Py_ssize_t)len,
                                               Py_ASNATIVEBYTES_BIG_ENDIAN
                                                   | Py_ASNATIVEBYTES_UNSIGNED_BUFFER
                                                   | Py_ASNATIVEBYTES_REJECT_NEGATIVE);
        if (need < 0)
            return -1;
        if ((size_t)need > len) {
            PyErr_SetString(PyExc_ValueError, "IPv6 address out of range");
            return -1;
        }
        return 0;
    }
#else
    return _PyLong_AsByteArray((PyLongObject *)ip, out, len, 0, 0);
#endif
}

/* The value of an object __slots__ member when obj is exactly of type
 * `type` and the member's offset is known; NULL (no exception) otherwise. */
static PyObject *read_slot(PyObject *obj, PyObject *type, Py_ssize_t offset)
{
    PyObject *value;

    if (offset < 0 || (PyObject *)Py_TYPE(obj) != type)
        return NULL;
    value = *(PyObject **)((char *)obj + offset);
    return Py_XNewRef(value);
}

/* Offset of a T_OBJECT_EX __slots__ member of a type, or -1. */
Py_ssize_t tfpy_slot_offset(PyObject *type, const char *name)
{
    PyObject *descr = PyObject_GetAttrString(type, name);
    Py_ssize_t offset = -1;

    if (descr == NULL) {
        PyErr_Clear();
        return -1;
    }
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type == T_OBJECT_EX && !(m->flags & READ_RESTRICTED))
            offset = m->offset;
    }
    Py_DECREF(descr);
    return offset;
}

/*
 * Reads an address field into the key.  *objp receives the ipaddress object
 * (the field's value, or the address parsed from a str/bytes value).
 */
static int get_address(TracerObject *self, const packet_view *pkt, PyObject *name, uint8_t addr[16],
                       uint8_t *family, uint32_t *zone, PyObject **objp)
{
    core_state *st = self->st;
    PyObject *value = get_field(pkt, name);
    PyObject *ip = NULL;
    int v6;

    *objp = NULL;
    if (value == NULL)
        return -1;
    if (Py_IS_TYPE(value, (PyTypeObject *)st->ipv4_type))
        v6 = 0;
    else if (Py_IS_TYPE(value, (PyTypeObject *)st->ipv6_type))
        v6 = 1;
    else
        v6 = -1;
    if (v6 < 0 && !PyObject_TypeCheck(value, (PyTypeObject *)st->ipv4_type)
        && !PyObject_TypeCheck(value, (PyTypeObject *)st->ipv6_type)) {
        PyObject *parsed;
        if (PyByteArray_Check(value)) {
            PyObject *b = PyBytes_FromObject(value);
            Py_DECREF(value);
            if (b == NULL)
                return -1;
            value = b;
        }
        if (!PyUnicode_Check(value) && !PyBytes_Check(value)) {
            PyErr_Format(PyExc_TypeError,
                         "packet field %R must be an IPv4Address, IPv6Address, str or bytes, not %.100s",
                         name, Py_TYPE(value)->tp_name);
            Py_DECREF(value);
            return -1;
        }
        parsed = PyObject_CallOneArg(st->ip_address, value);
        if (parsed == NULL) {
            if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError,
                             "packet field %R is neither an IPv4 nor an IPv6 address: %R", name, value);
            }
            Py_DECREF(value);
            return -1;
        }
        Py_DECREF(value);
        value = parsed;
    }
    if (v6 < 0)
        v6 = PyObject_TypeCheck(value, (PyTypeObject *)st->ipv6_type);
    ip = read_slot(value, v6 ? st->ipv6_type : st->ipv4_type,
                   v6 ? st->ipv6_ip_offset : st->ipv4_ip_offset);
    if (ip == NULL)
        ip = PyObject_GetAttr(value, st->s_ip);
    if (ip == NULL || int_to_address(ip, addr, v6 ? 16 : 4) < 0)
        goto error;
    Py_CLEAR(ip);
    *family = v6 ? TF_FAMILY_IPV6 : TF_FAMILY_IPV4;
    *zone = 0;
    if (v6) {
        PyObject *scope = read_slot(value, st->ipv6_type, st->ipv6_scope_offset);
        if (scope == NULL)
            scope = PyObject_GetAttr(value, st->s_scope_id);
        if (scope == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                goto error;
            PyErr_Clear();
        } else if (scope != Py_None) {
            PyObject *num = PyDict_GetItemWithError(self->zones, scope);
            if (num == NULL) {
                Py_ssize_t n;
                if (PyErr_Occurred()) {
                    Py_DECREF(scope);
                    goto error;
                }
                n = PyDict_GET_SIZE(self->zones) + 1;
                num = PyLong_FromSsize_t(n);
                if (num == NULL || PyDict_SetItem(self->zones, scope, num) < 0) {
                    Py_XDECREF(num);
                    Py_DECREF(scope);
                    goto error;
                }
                Py_DECREF(num);
            }
            *zone = (uint32_t)PyLong_AsUnsignedLong(num);
            Py_DECREF(scope);
        } else {
            Py_DECREF(scope);
        }
    }
    *objp = value;
    return 0;
error:
    Py_XDECREF(ip);
    Py_DECREF(value);
    return -1;
}

/* Text of an address as format(addr, '') gives it: computed here for an
 * exact IPv4Address (dotted quad), asked of the object otherwise (IPv6 text
 * depends on the running Python's ipaddress). */
static PyObject *address_text(core_state *st, PyObject *obj, const uint8_t *addr)
{
    if ((PyObject *)Py_TYPE(obj) == st->ipv4_type)
        return PyUnicode_FromFormat("%u.%u.%u.%u", (unsigned)addr[0], (unsigned)addr[1],
                                    (unsigned)addr[2], (unsigned)addr[3]);
    return PyObject_Format(obj, st->s_empty);
}

/* pcapkit's label: f'{src}_{srcport}-{dst}_{dstport}-{timestamp}', with ':'
 * turned into '.' when the source address is not IPv4. */
static PyObject *make_label(core_state *st, const tf_flow_key *key, PyObject *src, PyObject *dst,
                            PyObject *timestamp)
{
    PyObject *s = NULL, *d = NULL, *ts = NULL, *label = NULL, *fixed;

    s = address_text(st, src, key->src);
    d = s ? address_text(st, dst, key->dst) : NULL;
    ts = d ? PyObject_Format(timestamp, st->s_empty) : NULL;
    if (ts != NULL)
        label = PyUnicode_FromFormat("%U_%u-%U_%u-%U", s, (unsigned)key->src_port, d,
                                     (unsigned)key->dst_port, ts);
    Py_XDECREF(s);
    Py_XDECREF(d);
    Py_XDECREF(ts);
    if (label == NULL || key->src_family == TF_FAMILY_IPV4)
        return label;
    fixed = PyUnicode_Replace(label, st->s_colon, st->s_dot, -1);
    Py_DECREF(label);
    return fixed;
}


/* The label made in C when the packet's fields have the usual types: exact
 * IPv4Address/IPv6Address objects without a scope and a float or int
 * timestamp; NULL without an exception otherwise (make_label does it). */
static PyObject *label_fast(core_state *st, const tf_flow_key *key, PyObject *src, PyObject *dst,
                            PyObject *timestamp)
{
    char out[2 * TF_ADDRESS_TEXT_MAX + TF_FLOAT_TEXT_MAX + 32];
    char *p = out;
    size_t n, i;

    if (!(Py_IS_TYPE(src, (PyTypeObject *)st->ipv4_type)
          || (Py_IS_TYPE(src, (PyTypeObject *)st->ipv6_type) && key->src_zone == 0))
        || !(Py_IS_TYPE(dst, (PyTypeObject *)st->ipv4_type)
             || (Py_IS_TYPE(dst, (PyTypeObject *)st->ipv6_type) && key->dst_zone == 0)))
        return NULL;
    if (!PyFloat_CheckExact(timestamp) && !PyLong_CheckExact(timestamp))
        return NULL;
    p += tf_address_text(key->src_family, key->src, &st->style, p);
    p += sprintf(p, "_%u-", (unsigned)key->src_port);
    p += tf_address_text(key->dst_family, key->dst, &st->style, p);
    p += sprintf(p, "_%u-", (unsigned)key->dst_port);
    if (PyFloat_CheckExact(timestamp)) {
        p += tf_float_repr(PyFloat_AS_DOUBLE(timestamp), p);
    } else {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(timestamp, &overflow);
        if (overflow || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return NULL;
        }
        p += sprintf(p, "%lld", v);
    }
    n = (size_t)(p - out);
    if (key->src_family != TF_FAMILY_IPV4)
        for (i = 0; i < n; i++)
            if (out[i] == ':')
                out[i] = '.';
    return PyUnicode_DecodeASCII(out, (Py_ssize_t)n, NULL);
}

/* f'{obj}' */
static PyObject *format_text(core_state *st, PyObject *obj)
{
    if (PyUnicode_CheckExact(obj))
        return Py_NewRef(obj);
    return PyObject_Format(obj, st->s_empty);
}

/* A settings attribute, or AttributeError as Python would raise it. */
static PyObject *setting(TracerObject *self, PyObject *value, const char *name)
{
    if (value == NULL)
        PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%s'",
                     Py_TYPE(self)->tp_name, name);
    return value;
}

/* The three spellings of a flow's file in pcapkit's tracer, by where it
 * is made: f'{self._fproot}/{label}{ext}' with ext the text of
 * self._fdpext, except that a dumper's name has "" for a false extension,
 * a closed flow's Index has None for a None one, and submit() has None for
 * a false one. */
typedef enum { PATH_DUMPER, PATH_CLOSED, PATH_SUBMIT } path_use;

static PyObject *flow_path(TracerObject *self, PyObject *label, path_use use)
{
    core_state *st = self->st;
    PyObject *root = NULL, *ext = NULL, *path = NULL, *fproot, *fdpext;
    int truth = 1;

    if (setting(self, self->fproot, "_fproot") == NULL
        || setting(self, self->fdpext, "_fdpext") == NULL)
        return NULL;
    /* held: the Python code below (truth, __format__) may replace them */
    fproot = Py_NewRef(self->fproot);
    fdpext = Py_NewRef(self->fdpext);
    if (use == PATH_CLOSED && fdpext == Py_None) {
        path = Py_NewRef(Py_None);
        goto done;
    }
    if (use != PATH_CLOSED) {
        truth = PyObject_IsTrue(fdpext);
        if (truth < 0)
            goto done;
        if (!truth && use == PATH_SUBMIT) {
            path = Py_NewRef(Py_None);
            goto done;
        }
    }
    root = format_text(st, fproot);
    if (root == NULL)
        goto done;
    ext = truth ? format_text(st, fdpext) : Py_NewRef(st->s_empty);
    if (ext != NULL)
        path = PyUnicode_FromFormat("%U/%U%U", root, label, ext);
done:
    Py_XDECREF(root);
    Py_XDECREF(ext);
    Py_DECREF(fproot);
    Py_DECREF(fdpext);
    return path;
}

/* self._foutio(fname=..., protocol=..., byteorder=self._endian,
 * nanosecond=self._nnsecd), as pcapkit makes a flow's dumper. */
static PyObject *make_dumper(TracerObject *self, PyObject *dumper_class, PyObject *label,
                             PyObject *protocol)
{
    PyObject *args[4], *dumper;

    if (setting(self, self->endian, "_endian") == NULL
        || setting(self, self->nnsecd, "_nnsecd") == NULL)
        return NULL;
    /* held: flow_path runs Python code that may replace them */
    args[2] = Py_NewRef(self->endian);
    args[3] = Py_NewRef(self->nnsecd);
    Py_INCREF(dumper_class);
    args[0] = flow_path(self, label, PATH_DUMPER);
    args[1] = protocol;
    dumper = args[0] ? PyObject_Vectorcall(dumper_class, args, 0, self->st->dumper_kwnames) : NULL;
    Py_XDECREF(args[0]);
    Py_DECREF(args[2]);
    Py_DECREF(args[3]);
    Py_DECREF(dumper_class);
    return dumper;
}

/* The default of _close_flow: the flow's Index goes to every callback, then
 * to self._stream, as pcapkit's tracer does it. */
static int close_default(TracerObject *self, PyObject *label, PyObject *frames)
{
    core_state *st = self->st;
    PyObject *fpout, *index, *callbacks, *r;
    int rc = -1;

    fpout = flow_path(self, label, PATH_CLOSED);
    if (fpout == NULL)
        return -1;
    index = tfpy_make_index(st, fpout, frames, label);
    Py_DECREF(fpout);
    if (index == NULL)
        return -1;
    callbacks = PyObject_GetAttr((PyObject *)self, st->s_callback_fn);
    if (callbacks == NULL)
        goto done;
    if (PyList_CheckExact(callbacks)) {
        Py_ssize_t i;
        /* as a for loop over a list: the list may change meanwhile */
        for (i = 0; i < PyList_GET_SIZE(callbacks); i++) {
            PyObject *fn = Py_NewRef(PyList_GET_ITEM(callbacks, i));
            r = PyObject_CallOneArg(fn, index);
            Py_DECREF(fn);
            if (r == NULL)
                goto done;
            Py_DECREF(r);
        }
    } else {
        PyObject *it = PyObject_GetIter(callbacks), *fn;
        if (it == NULL)
            goto done;
        while ((fn = PyIter_Next(it)) != NULL) {
            r = PyObject_CallOneArg(fn, index);
            Py_DECREF(fn);
            if (r == NULL)
                break;
            Py_DECREF(r);
        }
        Py_DECREF(it);
        if (PyErr_Occurred())
            goto done;
    }
    if (setting(self, self->stream, "_stream") == NULL)
        goto done;
    if (PyList_CheckExact(self->stream)) {
        if (PyList_Append(self->stream, index) < 0)
            goto done;
    } else {
        r = PyObject_CallMethodOneArg(self->stream, st->s_append, index);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    rc = 0;
done:
    Py_XDECREF(callbacks);
    Py_DECREF(index);
    return rc;
}

/* Whether the subclass left hook `name` to Tracer (done in C then). */
static int hook_is_default(TracerObject *self, PyObject *name, PyObject *default_hook)
{
    return _PyType_Lookup(Py_TYPE(self), name) == default_hook;
}

/* The dumper of an open flow, made now if it was left to be made when asked. */
static PyObject *flow_dumper(TracerObject *self, flow_rec *rec)
{
    if (rec->dumper == NULL) {
        PyObject *made;
        if (self->st->null_dumper == NULL) {
            PyErr_SetString(PyExc_RuntimeError,
                            "pcapkit_tcpflow._core._set_defaults() was not called");
            return NULL;
        }
        made = make_dumper(self, self->st->null_dumper, rec->label, Py_None);
        if (made == NULL)
            return NULL;
        if (rec->dumper == NULL) /* else code run meanwhile made it: keep that one */
            rec->dumper = made;
        else
            Py_DECREF(made);
    }
    return Py_NewRef(rec->dumper);
}

/* Opens a flow for a packet whose key is not in the table. */
static int open_flow(TracerObject *self, const packet_view *pkt, const tf_flow_key *key, PyObject *src,
                     PyObject *dst, int output, tf_flow_id *id)
{
    core_state *st = self->st;
    PyObject *timestamp = NULL, *protocol = NULL, *label = NULL, *dumper = NULL;
    flow_rec *rec;
    tf_status status;
    int rc = -1;

    if ((uint64_t)self->nrecs != tf_flowtable_flow_count(self->table)) {
        PyErr_SetString(PyExc_SystemError, "flow table and flow records disagree");
        return -1;
    }
    if (self->nrecs == self->caprecs) {
        size_t cap = self->caprecs ? self->caprecs + self->caprecs / 2 : 64;
        flow_rec **grown = PyMem_Realloc(self->recs, cap * sizeof(*grown));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->recs = grown;
        self->caprecs = cap;
    }
    timestamp = get_field(pkt, st->s_timestamp);
    if (timestamp == NULL)
        goto done;
    if (!PyNumber_Check(timestamp) || PyBool_Check(timestamp)) {
        PyErr_Format(PyExc_TypeError, "packet field 'timestamp' must be a number, not %.100s",
                     Py_TYPE(timestamp)->tp_name);
        goto done;
    }
    protocol = get_field(pkt, st->s_protocol);
    if (protocol == NULL)
        goto done;
    label = label_fast(st, key, src, dst, timestamp);
    if (label == NULL && !PyErr_Occurred())
        label = make_label(st, key, src, dst, timestamp);
    if (label == NULL)
        goto done;
    if (!hook_is_default(self, st->s_open_flow, st->default_open_flow))
        dumper = PyObject_CallMethodObjArgs((PyObject *)self, st->s_open_flow, label, protocol, NULL);
    else if (setting(self, self->foutio, "_foutio") == NULL)
        goto done;
    else if (self->foutio != st->null_dumper || output) /* "no output": made when asked for */
        dumper = make_dumper(self, self->foutio, label, protocol);
    if (dumper == NULL && PyErr_Occurred())
        goto done;
    /* A hook may have traced meanwhile from another thread: the table and
     * the records must still agree. */
    if ((uint64_t)self->nrecs != tf_flowtable_flow_count(self->table)
        || self->nrecs >= self->caprecs) {
        PyErr_SetString(PyExc_SystemError, "flow table and flow records disagree");
        goto done;
    }
    rec = PyMem_Malloc(sizeof(*rec));
    if (rec == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    status = tf_flowtable_open(self->table, key, id);
    if (status != TF_OK) {
        PyMem_Free(rec);
        tfpy_raise_status(status, NULL);
        goto done;
    }
    self->recs[self->nrecs++] = rec;
    rec->label = label;
    rec->dumper = dumper;
    rec->src = Py_NewRef(src);
    rec->dst = Py_NewRef(dst);
    label = dumper = NULL;
    rc = 0;
done:
    Py_XDECREF(timestamp);
    Py_XDECREF(protocol);
    Py_XDECREF(label);
    Py_XDECREF(dumper);
    return rc;
}

/* Takes the tracer for this thread (see TracerObject.owner). */
static int enter(TracerObject *self)
{
    unsigned long me = PyThread_get_thread_ident();

    if (self->owner == me) {
        PyErr_SetString(PyExc_RuntimeError,
                        "trace() called again from its own dumper or callback");
        return -1;
    }
    while (self->owner != 0) {
        Py_BEGIN_ALLOW_THREADS
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
        Py_END_ALLOW_THREADS
    }
    self->owner = me;
    return 0;
}

/* Closes flow id after its FIN: the record is dropped, as pcapkit drops the
 * buffer, then the flow's Index is made and handed on. */
static int close_flow(TracerObject *self, tf_flow_id id)
{
    core_state *st = self->st;
    PyObject *frames, *label;
    tf_flow_info info;
    int rc;

    tf_flowtable_info(self->table, id, &info);
    frames = tfpy_frames_tuple(&info);
    if (frames == NULL)
        return -1;
    label = Py_NewRef(self->recs[id]->label);
    rec_drop(self, (size_t)id);
    tf_flowtable_close(self->table, id);
    tf_flowtable_release_frames(self->table, id);
    if (hook_is_default(self, st->s_close_flow, st->default_close_flow)) {
        rc = close_default(self, label, frames);
    } else {
        PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, st->s_close_flow, label, frames,
                                                 NULL);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
    Py_DECREF(label);
    Py_DECREF(frames);
    return rc;
}

/* Holds the tracer while a method other than trace() walks its flows and
 * may run Python code (a dumper's constructor, __format__ of _fproot):
 * trace() from that code is refused and other threads wait, so the records
 * cannot change under the walk.  Inside trace()'s own hooks and callbacks
 * (this thread holds it already, the records are consistent) it goes on.
 * *took tells whether to let go (self->owner = 0) afterwards. */
static int hold(TracerObject *self, int *took)
{
    *took = 0;
    if (self->owner == PyThread_get_thread_ident())
        return 0;
    if (enter(self) < 0)
        return -1;
    *took = 1;
    return 0;
}

PyDoc_STRVAR(Tracer_trace_doc,
"trace($self, packet, /, *, output=False)\n--\n\n"
"Trace one packet; return its flow's label, or with output=True the flow's dumper.");

static PyObject *Tracer_trace(TracerObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    core_state *st = self->st;
    PyObject *pkt, *src = NULL, *dst = NULL, *finobj = NULL, *result = NULL;
    PyObject *ret;
    int output = 0, fin;
    tf_flow_key key;
    tf_flow_id id;
    uint64_t frame;
    uint32_t hash;
    tf_status status;
    packet_view view = {NULL, NULL, 0};

    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "trace() takes 1 positional argument (%zd given)", nargs);
        return NULL;
    }
    pkt = args[0];
    if (kwnames != NULL) {
        Py_ssize_t i;
        for (i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
            if (!PyUnicode_Check(kw) || PyUnicode_CompareWithASCIIString(kw, "output") != 0) {
                PyErr_Format(PyExc_TypeError, "trace() got an unexpected keyword argument %R", kw);
                return NULL;
            }
            output = PyObject_IsTrue(args[nargs + i]);
            if (output < 0)
                return NULL;
        }
    }
    if (self->table == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "tracer is not initialised");
        return NULL;
    }
    if (enter(self) < 0)
        return NULL;

    if (view_packet(self, pkt, &view) < 0)
        goto done;
    tf_flow_key_init(&key);
    if (get_address(self, &view, st->s_src, key.src, &key.src_family, &key.src_zone, &src) < 0)
        goto done;
    if (get_port(&view, st->s_srcport, &key.src_port) < 0)
        goto done;
    if (get_address(self, &view, st->s_dst, key.dst, &key.dst_family, &key.dst_zone, &dst) < 0)
        goto done;
    if (get_port(&view, st->s_dstport, &key.dst_port) < 0)
        goto done;
    /* the flow's slot loads while fin and index are read */
    hash = tf_flowtable_prefetch(self->table, &key);
    finobj = get_field(&view, st->s_fin);
    if (finobj == NULL)
        goto done;
    fin = PyObject_IsTrue(finobj);
    if (fin < 0)
        goto done;
    if (get_frame_number(&view, st->s_index, &frame) < 0)
        goto done;

    if (tf_flowtable_find_hashed(self->table, &key, hash, &id)) {
        /* a dumper asked for is made first: if that fails, nothing changed */
        if (output && self->recs[id]->dumper == NULL) {
            PyObject *made = flow_dumper(self, self->recs[id]);
            if (made == NULL)
                goto done;
            Py_DECREF(made);
        }
        status = tf_flowtable_append(self->table, id, frame);
        if (status != TF_OK) {
            tfpy_raise_status(status, NULL);
            goto done;
        }
    } else {
        if (open_flow(self, &view, &key, src, dst, output, &id) < 0)
            goto done;
        /* Cannot fail: open reserved room for the first frame. */
        tf_flowtable_append(self->table, id, frame);
    }
    Py_CLEAR(self->submit_cache);

    /* the dumper exists when asked for (made above or by open_flow) */
    ret = output ? flow_dumper(self, self->recs[id]) : Py_NewRef(self->recs[id]->label);
    if (ret == NULL)
        goto done;
    if (fin && close_flow(self, id) < 0) {
        Py_DECREF(ret);
        goto done;
    }
    result = ret;
done:
    self->owner = 0;
    Py_XDECREF(view.dict);
    Py_XDECREF(src);
    Py_XDECREF(dst);
    Py_XDECREF(finobj);
    return result;
}

PyDoc_STRVAR(Tracer_open_flows_doc,
"_open_flows($self, /)\n--\n\n"
"List (label, frames, dumper, bufid) of the open flows in the order they were opened.");

static PyObject *open_flows(TracerObject *self)
{
    PyObject *list = PyList_New(0);
    uint64_t id, count = tf_flowtable_flow_count(self->table);
    tf_flow_info info;

    if (list == NULL)
        return NULL;
    for (id = 0; id < count && id < self->nrecs; id++) {
        PyObject *frames, *item, *dumper, *bufid;
        flow_rec *rec = self->recs[id];
        tf_flowtable_info(self->table, id, &info);
        if (!info.open || rec == NULL)
            continue;
        /* the frames and ports first: info points into the table */
        frames = tfpy_frames_tuple(&info);
        bufid = frames ? Py_BuildValue("(OiOi)", rec->src, (int)info.key->src_port, rec->dst,
                                       (int)info.key->dst_port) : NULL;
        dumper = bufid ? flow_dumper(self, rec) : NULL;
        item = dumper ? PyTuple_Pack(4, rec->label, frames, dumper, bufid) : NULL;
        Py_XDECREF(dumper);
        Py_XDECREF(bufid);
        Py_XDECREF(frames);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            goto error;
        }
        Py_DECREF(item);
    }
    return list;
error:
    Py_DECREF(list);
    return NULL;
}

PyDoc_STRVAR(Tracer_open_indexes_doc,
"_open_indexes($self, /)\n--\n\n"
"List of the Index records of the open flows in the order they were opened.");

/* walk(self) with the tracer held (see hold()). */
static PyObject *held_walk(TracerObject *self, PyObject *(*walk)(TracerObject *))
{
    PyObject *list;
    int took;

    if (hold(self, &took) < 0)
        return NULL;
    list = walk(self);
    if (took)
        self->owner = 0;
    return list;
}

static PyObject *Tracer_open_flows(TracerObject *self, PyObject *Py_UNUSED(ignored))
{
    return held_walk(self, open_flows);
}

static PyObject *open_indexes(TracerObject *self)
{
    PyObject *list = PyList_New(0);
    uint64_t id, count = tf_flowtable_flow_count(self->table);
    tf_flow_info info;

    if (list == NULL)
        return NULL;
    for (id = 0; id < count && id < self->nrecs; id++) {
        PyObject *frames, *fpout, *index;
        flow_rec *rec = self->recs[id];
        tf_flowtable_info(self->table, id, &info);
        if (!info.open || rec == NULL)
            continue;
        /* the frames first: info points into the table */
        frames = tfpy_frames_tuple(&info);
        fpout = frames ? flow_path(self, rec->label, PATH_SUBMIT) : NULL;
        index = fpout ? tfpy_make_index(self->st, fpout, frames, rec->label) : NULL;
        Py_XDECREF(fpout);
        Py_XDECREF(frames);
        if (index == NULL || PyList_Append(list, index) < 0) {
            Py_XDECREF(index);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(index);
    }
    return list;
}

static PyObject *Tracer_open_indexes(TracerObject *self, PyObject *Py_UNUSED(ignored))
{
    return held_walk(self, open_indexes);
}

/* The arguments of a hook called from Python: (label: str, other). */
static int hook_args(const char *name, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 2 arguments (%zd given)", name, nargs);
        return -1;
    }
    if (!PyUnicode_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s() label must be a str", name);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(Tracer_open_flow_doc,
"_open_flow($self, label, protocol, /)\n--\n\n"
"Hook called when a packet opens a flow; returns the flow's dumper.\n"
"The default makes self._foutio(fname=f'{self._fproot}/{label}{self._fdpext or \"\"}',\n"
"protocol=protocol, byteorder=self._endian, nanosecond=self._nnsecd).");

static PyObject *Tracer_open_flow_hook(TracerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (hook_args("_open_flow", args, nargs) < 0)
        return NULL;
    if (setting(self, self->foutio, "_foutio") == NULL)
        return NULL;
    return make_dumper(self, self->foutio, args[0], args[1]);
}

PyDoc_STRVAR(Tracer_close_flow_doc,
"_close_flow($self, label, frames, /)\n--\n\n"
"Hook called when a FIN closes a flow.  The default makes the flow's Index,\n"
"calls every function of __callback_fn__ with it and appends it to _stream.");

static PyObject *Tracer_close_flow_hook(TracerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (hook_args("_close_flow", args, nargs) < 0)
        return NULL;
    if (close_default(self, args[0], args[1]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Tracer_get_submit_cache(TracerObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->submit_cache ? self->submit_cache : Py_None);
}

static int Tracer_set_submit_cache(TracerObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL || value == Py_None) {
        Py_CLEAR(self->submit_cache);
        return 0;
    }
    Py_XSETREF(self->submit_cache, Py_NewRef(value));
    return 0;
}

static PyObject *Tracer_get_open_count(TracerObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong(tf_flowtable_open_count(self->table));
}

static PyMethodDef Tracer_methods[] = {
    {"trace", (PyCFunction)(void (*)(void))Tracer_trace, METH_FASTCALL | METH_KEYWORDS,
     Tracer_trace_doc},
    {"_open_flows", (PyCFunction)Tracer_open_flows, METH_NOARGS, Tracer_open_flows_doc},
    {"_open_indexes", (PyCFunction)Tracer_open_indexes, METH_NOARGS, Tracer_open_indexes_doc},
    {"_open_flow", (PyCFunction)(void (*)(void))Tracer_open_flow_hook, METH_FASTCALL,
     Tracer_open_flow_doc},
    {"_close_flow", (PyCFunction)(void (*)(void))Tracer_close_flow_hook, METH_FASTCALL,
     Tracer_close_flow_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Tracer_members[] = {
    {"_fproot", T_OBJECT, offsetof(TracerObject, fproot), 0, "Output root folder."},
    {"_fdpext", T_OBJECT, offsetof(TracerObject, fdpext), 0,
     "Output file extension (None: no output)."},
    {"_foutio", T_OBJECT, offsetof(TracerObject, foutio), 0, "Dumper class of the output format."},
    {"_endian", T_OBJECT, offsetof(TracerObject, endian), 0, "Byte order of output files."},
    {"_nnsecd", T_OBJECT, offsetof(TracerObject, nnsecd), 0,
     "Nanosecond-resolution output files."},
    {"_stream", T_OBJECT, offsetof(TracerObject, stream), 0,
     "Closed flows' Index records, in the order they closed."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Tracer_getset[] = {
    {"_submit_cache", (getter)Tracer_get_submit_cache, (setter)Tracer_set_submit_cache,
     "Cached result of submit(), None after any trace().", NULL},
    {"_open_count", (getter)Tracer_get_open_count, NULL, "Number of open flows.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Tracer_doc,
"Tracer()\n--\n\n"
"C flow table under pcapkit_tcpflow.TCP; subclass it, do not use it directly.\n"
"A subclass sets _fproot, _fdpext, _foutio, _endian, _nnsecd and _stream;\n"
"it may override the hooks _open_flow(label, protocol) -> dumper and\n"
"_close_flow(label, frames), whose defaults are done in C (the hooks are\n"
"looked up on the class, not on the instance).");

static PyType_Slot Tracer_slots[] = {
    {Py_tp_new, Tracer_new},
    {Py_tp_dealloc, Tracer_dealloc},
    {Py_tp_traverse, Tracer_traverse},
    {Py_tp_clear, Tracer_clear},
    {Py_tp_methods, Tracer_methods},
    {Py_tp_members, Tracer_members},
    {Py_tp_getset, Tracer_getset},
    {Py_tp_doc, (void *)Tracer_doc},
    {0, NULL},
};

PyType_Spec tfpy_tracer_spec = {
    .name = "pcapkit_tcpflow._core.Tracer",
    .basicsize = sizeof(TracerObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Tracer_slots,
};
