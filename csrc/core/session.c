/*
 * session.c - one tracing run: read records, decode, track flows, write
 * per-flow pcap files.
 *
 * The caller drives the run in steps (tf_session_step) so that it can let
 * go of its own locks during a step and look for interruptions between
 * steps.  Per flow the session keeps the label text (also the output file
 * name), the link type of the flow's first packet (the network field of its
 * output file) and the output file's state.
 *
 * Output files: records are gathered per flow in memory and written in
 * chunks (FLUSH_AT bytes a flow, at most PENDING_BUDGET bytes in all) with
 * plain descriptors opened relative to the output folder (a flow file
 * costs open, one writev of header and records, close), so a
 * capture with many more concurrent flows than open files does not reopen
 * a file per packet.  At most max_open_files stay open; the least recently
 * written is closed when another must open, and reopened for appending when
 * its flow next writes.  A flow's file is created (truncated, as pcapkit
 * does) when its first records are written; a FIN writes out and closes
 * the flow's file; tf_session_finish writes out the rest.
 */
#define _POSIX_C_SOURCE 200809L /* openat, ftruncate */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tf.h"

#define FLUSH_AT (64u * 1024u)
#define PENDING_BUDGET (64u * 1024u * 1024u)

/* What a session keeps of every flow beside the flow table's entry. */
typedef struct flow_extra {
    tf_flow_stats stats;
    char *digits;      /* exact fraction digits of the first time, when kept */
} flow_extra;

/* What it keeps of every flow when it writes flow files. */
typedef struct flow_out {
    uint8_t *pending;  /* encoded records not yet written */
    uint64_t size;     /* bytes in the file */
    uint32_t pending_len;
    uint32_t pending_cap;
    uint32_t linktype;
    int32_t slot;      /* open-file slot, or -1 */
    uint8_t created;   /* the file exists (header written) */
} flow_out;

typedef struct open_file {
    int fd;
    uint64_t flow;
    uint64_t last_use;
} open_file;

struct tf_session {
    const tf_allocator *alloc;
    tf_session_options opt;
    char *dir;
    char *ext;
    int dirfd;         /* the output folder once a file was opened in it, or -1 */
    tf_reader *reader;
    tf_flowtable *flows;
    flow_extra *extra;
    flow_out *out;     /* NULL without output files */
    uint64_t extra_cap;
    open_file *files;
    uint32_t nfiles;
    uint64_t clock;
    uint64_t frames;
    uint64_t traced;
    uint64_t clamped;
    uint64_t pending_total;
};

static char *dupstr(const tf_allocator *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tf_malloc(a, n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

tf_status tf_session_new(tf_reader *reader, const tf_session_options *opt, const tf_allocator *alloc,
                         uint64_t seed, tf_session **out)
{
    tf_session *s;
    tf_status st;

    *out = NULL;
    s = tf_malloc(alloc, sizeof(*s));
    if (s == NULL) {
        tf_reader_close(reader);
        return TF_ERR_NOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->dirfd = -1;
    s->alloc = alloc;
    s->opt = *opt;
    s->reader = reader;
    s->frames = opt->frames_before;
    if (opt->out_dir != NULL) {
        s->dir = dupstr(alloc, opt->out_dir);
        s->ext = dupstr(alloc, opt->ext ? opt->ext : "");
        if (s->dir == NULL || s->ext == NULL) {
            tf_session_free(s);
            return TF_ERR_NOMEM;
        }
        if (s->opt.max_open_files == 0)
            s->opt.max_open_files = 1;
        s->files = tf_reallocarray(alloc, NULL, s->opt.max_open_files, sizeof(open_file));
        if (s->files == NULL) {
            tf_session_free(s);
            return TF_ERR_NOMEM;
        }
    }
    s->opt.out_dir = NULL;
    s->opt.ext = NULL;
    st = tf_flowtable_new(alloc, seed, &s->flows);
    if (st != TF_OK) {
        tf_session_free(s);
        return st;
    }
    *out = s;
    return TF_OK;
}

static tf_status close_slot(tf_session *s, uint32_t slot)
{
    open_file *f = &s->files[slot];
    tf_status st = TF_OK;

    if (close(f->fd) != 0)
        st = TF_ERR_IO;
    s->out[f->flow].slot = -1;
    s->nfiles--;
    if (slot != s->nfiles) {
        s->files[slot] = s->files[s->nfiles];
        s->out[s->files[slot].flow].slot = (int32_t)slot;
    }
    return st;
}

void tf_session_free(tf_session *s)
{
    uint64_t i, n;

    if (s == NULL)
        return;
    while (s->nfiles > 0)
        close_slot(s, s->nfiles - 1);
    n = s->flows ? tf_flowtable_flow_count(s->flows) : 0;
    for (i = 0; i < n; i++) {
        tf_free(s->alloc, s->extra[i].digits);
        if (s->out != NULL)
            tf_free(s->alloc, s->out[i].pending);
    }
    tf_free(s->alloc, s->extra);
    tf_free(s->alloc, s->out);
    tf_free(s->alloc, s->files);
    if (s->dirfd >= 0)
        close(s->dirfd);
    tf_free(s->alloc, s->dir);
    tf_free(s->alloc, s->ext);
    tf_flowtable_free(s->flows);
    tf_reader_close(s->reader);
    tf_free(s->alloc, s);
}

/* Closes the least recently written file. */
static tf_status close_lru(tf_session *s, char *errbuf)
{
    uint32_t i, lru = 0;

    for (i = 1; i < s->nfiles; i++)
        if (s->files[i].last_use < s->files[lru].last_use)
            lru = i;
    if (close_slot(s, lru) != TF_OK) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "cannot write a flow file: %s", strerror(errno));
        return TF_ERR_IO;
    }
    return TF_OK;
}

/* Opens a flow's file for appending: created (truncated, as pcapkit does)
 * when create is set.  Plain descriptors and a descriptor of the folder:
 * a flow file costs open, one write and close. */
static tf_status open_flow_file(tf_session *s, uint64_t id, int create, char *errbuf)
{
    char name[TF_LABEL_MAX + 512];
    char label[TF_LABEL_MAX];
    flow_out *x = &s->out[id];
    int fd, flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
    uint32_t slot;

    if (s->nfiles == s->opt.max_open_files && close_lru(s, errbuf) != TF_OK)
        return TF_ERR_IO;
    tf_session_label(s, id, label);
    if ((size_t)snprintf(name, sizeof(name), "%s%s", label, s->ext) >= sizeof(name)
        || strlen(s->dir) + 1 + strlen(name) >= 4096) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "output path too long");
        return TF_ERR_INVALID;
    }
    for (;;) {
        if (s->dirfd < 0)
            s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        fd = s->dirfd < 0 ? -1 : openat(s->dirfd, name, flags, 0666);
        /* Out of descriptors (the process's limit is lower than
         * max_open_files allows for): give back our own, one at a time. */
        if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || s->nfiles == 0)
            break;
        if (close_lru(s, errbuf) != TF_OK)
            return TF_ERR_IO;
    }
    if (fd < 0) {
        snprintf(errbuf, TF_ERRBUF_SIZE, "cannot open %.300s/%.150s: %s", s->dir, name,
                 strerror(errno));
        return TF_ERR_IO;
    }
    if (create)
        x->size = 0;
    slot = s->nfiles++;
    s->files[slot].fd = fd;
    s->files[slot].flow = id;
    s->files[slot].last_use = ++s->clock;
    x->slot = (int32_t)slot;
    return TF_OK;
}

/* Writes the n buffers whole (retrying short writes); *done gets the bytes
 * written.  0, or -1 with errno set. */
static int write_all(int fd, struct iovec *iov, int n, uint64_t *done)
{
    *done = 0;
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        *done += (uint64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Writes a flow's gathered records (after the file header when the file
 * is new) to its file. */
static tf_status flush_flow(tf_session *s, uint64_t id, char *errbuf)
{
    flow_out *x = &s->out[id];
    struct iovec iov[2];
    uint8_t hdr[24];
    uint64_t done;
    int n = 0;
    tf_status st;

    if (x->created && x->pending_len == 0)
        return TF_OK;
    if (x->slot < 0) {
        st = open_flow_file(s, id, !x->created, errbuf);
        if (st != TF_OK)
            return st;
    }
    s->files[x->slot].last_use = ++s->clock;
    if (!x->created) {
        tf_pcap_format fmt = s->opt.pcap;
        fmt.linktype = x->linktype;
        tf_pcap_encode_header(&fmt, hdr);
        iov[n].iov_base = hdr;
        iov[n++].iov_len = sizeof(hdr);
    }
    if (x->pending_len) {
        iov[n].iov_base = x->pending;
        iov[n++].iov_len = x->pending_len;
    }
    if (write_all(s->files[x->slot].fd, iov, n, &done) != 0) {
        int saved = errno;
        char label[TF_LABEL_MAX];
        /* keep whole records only (and a whole header): cut what part of
         * the chunk got out */
        uint64_t keep = x->size + (!x->created && done >= sizeof(hdr) ? sizeof(hdr) : 0);
        if (ftruncate(s->files[x->slot].fd, (off_t)keep) == 0) {
            x->size = keep;
            x->created = x->created || keep >= sizeof(hdr);
        } else {
            /* could not cut: the file holds what it holds */
            x->size += done;
            x->created = x->created || done >= sizeof(hdr);
        }
        tf_session_label(s, id, label);
        snprintf(errbuf, TF_ERRBUF_SIZE, "cannot write %.300s/%.150s%.20s: %s", s->dir,
                 label, s->ext, strerror(saved));
        errno = saved;
        return TF_ERR_IO;
    }
    x->created = 1;
    x->size += done;
    s->pending_total -= x->pending_len;
    tf_free(s->alloc, x->pending);
    x->pending = NULL;
    x->pending_len = x->pending_cap = 0;
    return TF_OK;
}

/* Writes out every flow; a failing flow does not stop the others.  Returns
 * the first failure (its message in errbuf). */
static tf_status flush_all(tf_session *s, char *errbuf)
{
    uint64_t id, n = tf_flowtable_flow_count(s->flows);
    tf_status first = TF_OK, st;
    char other[TF_ERRBUF_SIZE];

    for (id = 0; id < n; id++) {
        if (s->out[id].pending_len == 0 && s->out[id].created)
            continue;
        st = flush_flow(s, id, first == TF_OK ? errbuf : other);
        if (st != TF_OK && first == TF_OK)
            first = st;
    }
    return first;
}

static tf_status write_record(tf_session *s, uint64_t id, const tf_record *rec, char *errbuf)
{
    flow_out *x = &s->out[id];
    tf_pcap_format fmt = s->opt.pcap;
    uint64_t need = 16 + (uint64_t)rec->caplen;
    uint8_t *hdr;
    tf_status st;

    if (x->pending_len + need > x->pending_cap) {
        uint64_t cap = x->pending_cap ? x->pending_cap : 4096;
        uint8_t *p;
        while (cap < x->pending_len + need)
            cap *= 2;
        if (cap > UINT32_MAX) {
            st = flush_flow(s, id, errbuf);
            if (st != TF_OK)
                return st;
            cap = need;
        }
        p = tf_realloc(s->alloc, x->pending, (size_t)cap);
        if (p == NULL)
            return TF_ERR_NOMEM;
        x->pending = p;
        x->pending_cap = (uint32_t)cap;
    }
    hdr = x->pending + x->pending_len;
    fmt.linktype = x->linktype;
    if (rec->ts_sec < 0 || rec->ts_sec > (int64_t)UINT32_MAX) {
        /* a pcap record holds 32-bit seconds: clamp, and count it */
        s->clamped++;
        tf_pcap_encode_record(&fmt, rec->ts_sec < 0 ? 0 : (int64_t)UINT32_MAX,
                              rec->ts_sec < 0 ? 0 : 999999999u, rec->caplen, rec->origlen, hdr);
    } else {
        st = tf_pcap_encode_record(&fmt, rec->ts_sec, rec->ts_nsec, rec->caplen, rec->origlen, hdr);
        if (st != TF_OK)
            return st;
    }
    if (rec->caplen)
        memcpy(hdr + 16, rec->data, rec->caplen);
    x->pending_len += (uint32_t)need;
    s->pending_total += need;
    if (x->pending_len >= FLUSH_AT)
        return flush_flow(s, id, errbuf);
    if (s->pending_total > PENDING_BUDGET)
        return flush_all(s, errbuf);
    return TF_OK;
}

/* Makes room for n flows in s->extra (and s->out when writing files). */
static tf_status reserve_extra(tf_session *s, uint64_t n)
{
    flow_extra *p;
    uint64_t cap;

    if (n <= s->extra_cap)
        return TF_OK;
    cap = s->extra_cap ? s->extra_cap : 64;
    while (cap < n)
        cap += cap / 2; /* 1.5x: bounded slack per flow */
    if (s->dir != NULL) {
        flow_out *o = tf_reallocarray(s->alloc, s->out, (size_t)cap, sizeof(*o));
        if (o == NULL)
            return TF_ERR_NOMEM;
        s->out = o;
    }
    p = tf_reallocarray(s->alloc, s->extra, (size_t)cap, sizeof(*p));
    if (p == NULL)
        return TF_ERR_NOMEM; /* s->out may be larger than needed: harmless */
    s->extra = p;
    s->extra_cap = cap;
    return TF_OK;
}

static tf_status trace_record(tf_session *s, const tf_record *rec, char *errbuf)
{
    tf_decoded d;
    tf_flow_id id;
    tf_status st;

    if (!tf_decode_frame(rec->linktype, rec->data, rec->caplen, &s->opt.decode, &d))
        return TF_OK;
    s->traced++;
    if (!tf_flowtable_find(s->flows, &d.key, &id)) {
        char *copy;
        uint64_t n = tf_flowtable_flow_count(s->flows);
        st = reserve_extra(s, n + 1);
        if (st != TF_OK)
            return st;
        copy = NULL;
        if (rec->ts_digits != NULL && (copy = dupstr(s->alloc, rec->ts_digits)) == NULL)
            return TF_ERR_NOMEM;
        st = tf_flowtable_open(s->flows, &d.key, &id);
        if (st != TF_OK) {
            tf_free(s->alloc, copy);
            return st;
        }
        memset(&s->extra[id], 0, sizeof(s->extra[id]));
        s->extra[id].digits = copy;
        if (s->out != NULL) {
            memset(&s->out[id], 0, sizeof(s->out[id]));
            s->out[id].linktype = rec->linktype;
            s->out[id].slot = -1;
        }
        s->extra[id].stats.first_sec = rec->ts_sec;
        s->extra[id].stats.first_nsec = rec->ts_nsec;
        tf_flowtable_append(s->flows, id, s->frames);
    } else {
        st = tf_flowtable_append(s->flows, id, s->frames);
        if (st != TF_OK)
            return st;
    }
    {
        tf_flow_stats *fs = &s->extra[id].stats;
        fs->last_sec = rec->ts_sec;
        fs->last_nsec = rec->ts_nsec;
        fs->wire_bytes += rec->origlen;
        fs->captured_bytes += rec->caplen;
        fs->syn += (d.flags & TF_TCP_SYN) != 0;
        fs->fin += (d.flags & TF_TCP_FIN) != 0;
        fs->rst += (d.flags & TF_TCP_RST) != 0;
    }
    if (s->dir != NULL) {
        st = write_record(s, id, rec, errbuf);
        if (st != TF_OK)
            return st;
    }
    if (d.fin) {
        if (s->dir != NULL) {
            st = flush_flow(s, id, errbuf);
            if (st != TF_OK) {
                tf_flowtable_close(s->flows, id);
                return st;
            }
        }
        if (s->out != NULL && s->out[id].slot >= 0
            && close_slot(s, (uint32_t)s->out[id].slot) != TF_OK) {
            char label[TF_LABEL_MAX];
            int saved = errno;
            tf_session_label(s, id, label);
            snprintf(errbuf, TF_ERRBUF_SIZE, "cannot write %.300s/%.150s%.20s: %s", s->dir,
                     label, s->ext, strerror(saved));
            tf_flowtable_close(s->flows, id);
            return TF_ERR_IO;
        }
        tf_flowtable_close(s->flows, id);
    }
    return TF_OK;
}

tf_status tf_session_step(tf_session *s, uint64_t max_records, char *errbuf)
{
    tf_record rec;
    uint64_t i;
    tf_status st;

    errbuf[0] = '\0';
    for (i = 0; i < max_records; i++) {
        st = tf_reader_next(s->reader, &rec, errbuf);
        if (st != TF_OK)
            return st;
        s->frames++;
        st = trace_record(s, &rec, errbuf);
        if (st != TF_OK)
            return st;
    }
    return TF_OK;
}

tf_status tf_session_finish(tf_session *s, char *errbuf)
{
    tf_status st = TF_OK;

    errbuf[0] = '\0';
    if (s->dir != NULL)
        st = flush_all(s, errbuf);
    while (s->nfiles > 0) {
        if (close_slot(s, s->nfiles - 1) != TF_OK && st == TF_OK) {
            snprintf(errbuf, TF_ERRBUF_SIZE, "cannot write a flow file: %s", strerror(errno));
            st = TF_ERR_IO;
        }
    }
    /* the output folder is let go of: it can be unmounted or removed while
     * the caller keeps the session for its flows */
    if (s->dirfd >= 0) {
        close(s->dirfd);
        s->dirfd = -1;
    }
    return st;
}

uint64_t tf_session_frames(const tf_session *s)
{
    return s->frames;
}

uint64_t tf_session_traced(const tf_session *s)
{
    return s->traced;
}

uint64_t tf_session_clamped(const tf_session *s)
{
    return s->clamped;
}

const tf_flowtable *tf_session_flowtable(const tf_session *s)
{
    return s->flows;
}

size_t tf_session_label(const tf_session *s, tf_flow_id id, char out[TF_LABEL_MAX])
{
    tf_flow_info info;
    const flow_extra *x = &s->extra[id];

    tf_flowtable_info(s->flows, id, &info);
    return tf_flow_label(info.key, x->stats.first_sec, x->stats.first_nsec, x->digits,
                         &s->opt.style, out);
}

void tf_session_stats(const tf_session *s, tf_flow_id id, tf_flow_stats *stats)
{
    *stats = s->extra[id].stats;
}

const tf_reader *tf_session_reader(const tf_session *s)
{
    return s->reader;
}
