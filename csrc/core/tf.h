/*
 * tf.h - public interface of the pcapkit-tcpflow C core.
 *
 * The core is plain C99: it never includes Python.h and never holds a Python
 * object.  It offers opaque objects with new/free pairs (free accepts NULL),
 * reports every failure as a tf_status (tf_strerror() names it) and routes all
 * allocation through one tf_allocator, so tests can make the Nth allocation
 * fail.  There is no mutable global state.
 *
 * Public symbols start with tf_; everything else in the core is static.
 */
#ifndef TF_H
#define TF_H

#if !defined(__SIZEOF_INT128__)
/* label.c (exact float text) and flowtable.c (the hash) multiply 64-bit
 * words into 128 bits: GCC and Clang offer that on 64-bit targets. */
#error "pcapkit_tcpflow's C core needs unsigned __int128 (a 64-bit target with GCC or Clang)"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status */

typedef enum tf_status {
    TF_OK = 0,
    TF_ERR_NOMEM,   /* an allocation failed */
    TF_ERR_INVALID, /* an argument is out of range or inconsistent */
    TF_ERR_IO,      /* a system call failed; errno holds the reason */
    TF_ERR_LIMIT,   /* a fixed limit of the core was reached */
    TF_ERR_FORMAT,  /* the capture is not a readable pcap/pcapng file, or is damaged */
    TF_END          /* no more records (not an error) */
} tf_status;

enum { TF_ERRBUF_SIZE = 512 };

/* A short static English description of a status. */
const char *tf_strerror(tf_status status);

/* --------------------------------------------------------------- allocation */

/*
 * Every allocation of the core goes through one of these.  ctx is passed
 * back unchanged.  A NULL tf_allocator pointer means the C library's
 * malloc/realloc/free.
 */
typedef struct tf_allocator {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} tf_allocator;

void *tf_malloc(const tf_allocator *a, size_t size);
void *tf_realloc(const tf_allocator *a, void *ptr, size_t size);
void tf_free(const tf_allocator *a, void *ptr);
/* tf_realloc of count*size bytes with an overflow check (NULL on overflow). */
void *tf_reallocarray(const tf_allocator *a, void *ptr, size_t count, size_t size);

/* ----------------------------------------------------------------- flow key */

enum { TF_FAMILY_IPV4 = 4, TF_FAMILY_IPV6 = 6 };

/*
 * A directional flow key: (source address, source port, destination
 * address, destination port).  Each address has its own family (an IPv4
 * address is stored in the first 4 bytes, the rest zero) and a zone number
 * (0 = none; the binding numbers IPv6 scope ids).  Always start from
 * tf_flow_key_init() so that unused bytes and padding are zero: keys are
 * compared and hashed as raw bytes.
 */
typedef struct tf_flow_key {
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t src_zone;
    uint32_t dst_zone;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t src_family;
    uint8_t dst_family;
    uint8_t reserved[2];
} tf_flow_key;

void tf_flow_key_init(tf_flow_key *key);

/* --------------------------------------------------------------- flow table */

typedef struct tf_flowtable tf_flowtable;

/* Identifies a flow for the table's lifetime: flows are numbered 0, 1, 2, ...
 * in the order they were opened. */
typedef uint64_t tf_flow_id;

/* key and frame_bytes point into the table: read them before it changes. */
typedef struct tf_flow_info {
    const tf_flow_key *key;
    const uint8_t *frame_bytes; /* encoded frame numbers; NULL once released */
    uint64_t frame_bytes_len;
    uint64_t frame_count;
    int open;                   /* 1 while the flow is in the table */
} tf_flow_info;

/* Reads a flow's frame numbers in order:
 *   tf_frame_iter it; uint64_t n;
 *   tf_frames_begin(&info, &it); while (tf_frames_next(&it, &n)) ... */
typedef struct tf_frame_iter {
    const uint8_t *p;
    const uint8_t *end;
    uint64_t last;
} tf_frame_iter;

#define TF_VARINT_MAX 10 /* bytes of one encoded frame number, at most */

void tf_frames_begin(const tf_flow_info *info, tf_frame_iter *it);
int tf_frames_next(tf_frame_iter *it, uint64_t *frame);

/* seed randomises the hash function (any value works; use a random one). */
tf_status tf_flowtable_new(const tf_allocator *alloc, uint64_t seed, tf_flowtable **out);
void tf_flowtable_free(tf_flowtable *table);

/* Looks an open flow up.  Returns 1 and sets *id when found, 0 otherwise. */
int tf_flowtable_find(const tf_flowtable *table, const tf_flow_key *key, tf_flow_id *id);
/* The same in two steps, so that other work can hide the memory latency:
 * prefetch returns the key's hash and starts loading its slot; find_hashed
 * takes that hash. */
uint32_t tf_flowtable_prefetch(const tf_flowtable *table, const tf_flow_key *key);
int tf_flowtable_find_hashed(const tf_flowtable *table, const tf_flow_key *key, uint32_t hash,
                             tf_flow_id *id);

/*
 * Opens a new flow for key, which must not be open already (TF_ERR_INVALID).
 * Reserves room so that the first tf_flowtable_append() and the later
 * tf_flowtable_close() of this flow cannot fail.
 */
tf_status tf_flowtable_open(tf_flowtable *table, const tf_flow_key *key, tf_flow_id *id);

/* Appends a frame number to an open flow.  On failure nothing changes. */
tf_status tf_flowtable_append(tf_flowtable *table, tf_flow_id id, uint64_t frame);

/* Removes an open flow from the table and records it as the next closed
 * flow.  Its frame numbers stay readable until released.  Cannot fail for an
 * open flow. */
tf_status tf_flowtable_close(tf_flowtable *table, tf_flow_id id);

/* Frees the frame numbers of a closed flow (they are no longer needed once
 * the caller has copied them). */
void tf_flowtable_release_frames(tf_flowtable *table, tf_flow_id id);

/* Number of flows ever opened; number currently open; number closed. */
uint64_t tf_flowtable_flow_count(const tf_flowtable *table);
uint64_t tf_flowtable_open_count(const tf_flowtable *table);
uint64_t tf_flowtable_closed_count(const tf_flowtable *table);

/* The i-th closed flow, in closing order (i < closed_count). */
tf_flow_id tf_flowtable_closed_at(const tf_flowtable *table, uint64_t i);

/* Details of a flow (id < flow_count). */
void tf_flowtable_info(const tf_flowtable *table, tf_flow_id id, tf_flow_info *info);

/* ------------------------------------------------------------------ reader */

typedef struct tf_reader tf_reader;

enum { TF_FORMAT_PCAP = 1, TF_FORMAT_PCAPNG = 2 };

typedef struct tf_capture_info {
    int format;          /* TF_FORMAT_PCAP or TF_FORMAT_PCAPNG */
    int big_endian;      /* byte order of the file (pcap only) */
    int nanosecond;      /* nanosecond timestamps in the file (pcap only) */
    uint32_t linktype;   /* link type as stored in the file (pcap: all 32 bits) */
    uint32_t snaplen;
    uint16_t version_major;
    uint16_t version_minor;
} tf_capture_info;

/* One packet record.  data is valid until the next tf_reader_next(). */
typedef struct tf_record {
    int64_t ts_sec;
    uint32_t ts_nsec;          /* fraction of the second, truncated to ns */
    const char *ts_digits;     /* exact decimal digits of the fraction when
                                  ts_nsec is not exact (pcapng), else NULL */
    uint32_t caplen;
    uint32_t origlen;
    uint32_t linktype;
    const uint8_t *data;
} tf_record;

/*
 * Opens a capture read through libpcap from fp, which the reader owns from
 * then on (closed by tf_reader_close, even when opening fails).  errbuf
 * (TF_ERRBUF_SIZE bytes) receives libpcap's message on failure.
 */
tf_status tf_reader_open(void *fp, const tf_allocator *alloc, tf_reader **out, char *errbuf);
void tf_reader_info(const tf_reader *reader, tf_capture_info *info);
/* TF_OK with a record, TF_END at the end, TF_ERR_FORMAT (errbuf) when the
 * file is damaged (truncated record, absurd length): records read so far
 * stay valid. */
tf_status tf_reader_next(tf_reader *reader, tf_record *record, char *errbuf);
/* Bytes of the file consumed so far (for progress). */
uint64_t tf_reader_offset(const tf_reader *reader);
void tf_reader_close(tf_reader *reader);

/* ------------------------------------------------------------------- labels */

/* How the running Python prints addresses that changed between versions. */
typedef struct tf_label_style {
    int ipv4_mapped_dotted; /* ::ffff:1.2.3.4 (Python 3.13+) instead of ::ffff:102:304 */
} tf_label_style;

enum { TF_ADDRESS_TEXT_MAX = 48, TF_FLOAT_TEXT_MAX = 40, TF_LABEL_MAX = 160 };

/* Text of an address as Python's ipaddress prints it; returns its length. */
size_t tf_address_text(int family, const uint8_t addr[16], const tf_label_style *style,
                       char out[TF_ADDRESS_TEXT_MAX]);

/* repr() of a double, as Python prints it; returns its length. */
size_t tf_float_repr(double x, char out[TF_FLOAT_TEXT_MAX]);

/* repr(float(Decimal(sec) + Decimal(nsec) / 10**9)); with digits (may be
 * NULL) the fraction is 0.<digits> exactly instead.  Returns its length. */
size_t tf_time_repr(int64_t sec, uint32_t nsec, const char *digits, char out[TF_FLOAT_TEXT_MAX]);

/* pcapkit's label of a flow whose first packet has key and time; returns
 * its length. */
size_t tf_flow_label(const tf_flow_key *key, int64_t sec, uint32_t nsec, const char *digits,
                     const tf_label_style *style, char out[TF_LABEL_MAX]);

/* -------------------------------------------------------------- pcap writer */

/*
 * Classic pcap files (not pcapng).  The global header holds version 2.4,
 * thiszone 0, sigfigs 0, snaplen 262144 and the given link type, with the
 * magic number for the chosen byte order and resolution.  Records are
 * written with an explicit 16-byte on-disk header, never an in-memory
 * struct.
 */
enum { TF_PCAP_SNAPLEN = 262144 };

typedef struct tf_pcap_format {
    uint32_t linktype;
    int big_endian;  /* nonzero: big-endian file */
    int nanosecond;  /* nonzero: nanosecond timestamps */
} tf_pcap_format;

/* Encodes the 24-byte global header. */
void tf_pcap_encode_header(const tf_pcap_format *fmt, uint8_t out[24]);

/*
 * Encodes a 16-byte record header.  ts_nsec is the fraction of the second in
 * nanoseconds (< 10^9); for a microsecond file it is truncated to
 * microseconds.  Returns TF_ERR_INVALID when ts_sec does not fit 32 bits or
 * ts_nsec >= 10^9.
 */
tf_status tf_pcap_encode_record(const tf_pcap_format *fmt, int64_t ts_sec, uint32_t ts_nsec,
                                uint32_t caplen, uint32_t origlen, uint8_t out[16]);

/* Creates (truncates) path and writes the global header. */
tf_status tf_pcap_create(const char *path, const tf_pcap_format *fmt);

/* Opens path for appending and writes one record (header + data). */
tf_status tf_pcap_append(const char *path, const tf_pcap_format *fmt, int64_t ts_sec,
                         uint32_t ts_nsec, uint32_t origlen, const uint8_t *data, uint32_t caplen);

/* ------------------------------------------------------------------ decoder */

typedef struct tf_decode_options {
    int pcapkit_link_types_only; /* decode only Ethernet, 228, 229 (as pcapkit) */
} tf_decode_options;

/* TCP flag bits of tf_decoded.flags */
#define TF_TCP_FIN 0x01u
#define TF_TCP_SYN 0x02u
#define TF_TCP_RST 0x04u

typedef struct tf_decoded {
    tf_flow_key key;  /* outermost IP addresses, TCP ports */
    uint8_t flags;    /* TCP flags byte (0 when the header is cut before it) */
    int fin;
} tf_decoded;

/*
 * Decodes one frame of the given link type.  Returns 1 and fills *out when
 * the frame is a TCP segment the tracer takes, 0 otherwise.  Never reads
 * outside data[0..caplen).
 */
int tf_decode_frame(uint32_t linktype, const uint8_t *data, size_t caplen,
                    const tf_decode_options *opt, tf_decoded *out);

/* ----------------------------------------------------------------- session */

typedef struct tf_session tf_session;

/* What a session counts of each flow as it traces it. */
typedef struct tf_flow_stats {
    int64_t first_sec;        /* time of the first and last packets */
    int64_t last_sec;
    uint32_t first_nsec;
    uint32_t last_nsec;
    uint64_t wire_bytes;      /* sum of the records' original lengths */
    uint64_t captured_bytes;  /* sum of the records' captured lengths */
    uint32_t syn, fin, rst;   /* packets with each flag set */
} tf_flow_stats;

typedef struct tf_session_options {
    const char *out_dir;       /* NULL: no output files */
    const char *ext;           /* file name extension, e.g. ".pcap" */
    tf_pcap_format pcap;       /* byte order and resolution of output files */
    uint32_t max_open_files;   /* output files kept open at once (>= 1) */
    tf_label_style style;
    tf_decode_options decode;
    uint64_t frames_before;    /* the first record is frame frames_before + 1 */
} tf_session_options;

/* Takes ownership of reader (freed with the session, or on failure). */
tf_status tf_session_new(tf_reader *reader, const tf_session_options *opt, const tf_allocator *alloc,
                         uint64_t seed, tf_session **out);
/* Processes up to max_records records: TF_OK (more may follow), TF_END,
 * or an error (errbuf); what was traced so far stays valid. */
tf_status tf_session_step(tf_session *s, uint64_t max_records, char *errbuf);
/* Closes the output files. */
tf_status tf_session_finish(tf_session *s, char *errbuf);
void tf_session_free(tf_session *s);
uint64_t tf_session_frames(const tf_session *s);
uint64_t tf_session_traced(const tf_session *s);
/* Records written with a time outside the pcap range (clamped). */
uint64_t tf_session_clamped(const tf_session *s);
const tf_flowtable *tf_session_flowtable(const tf_session *s);
/* Writes a flow's label (made from its key and first time); returns its length. */
size_t tf_session_label(const tf_session *s, tf_flow_id id, char out[TF_LABEL_MAX]);
void tf_session_stats(const tf_session *s, tf_flow_id id, tf_flow_stats *stats);
const tf_reader *tf_session_reader(const tf_session *s);

#ifdef __cplusplus
}
#endif

#endif /* TF_H */
