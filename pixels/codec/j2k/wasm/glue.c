/*
 * glue.c: the only entry points of openjp2.wasm. The Go host (../wasm.go)
 * copies one codestream into module memory (hl_malloc), calls hl_decode and
 * reads the interleaved little-endian samples back from module memory. The
 * module is single-threaded and has no filesystem, clock or environment.
 *
 * Mirrors the cgo glue (../j2k_openjpeg.go) so both give identical samples.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "openjpeg.h"

#define EXPORT(name) __attribute__((export_name(#name)))

/*
 * Cancellation. OpenJPEG is compiled with -finstrument-function-entry-bare,
 * so every non-inlined function entry calls the hook below; every 1024th
 * call asks the host whether the decode's context is done, and the host
 * aborts the call if so. This costs a few percent, where wazero's own
 * WithCloseOnContextDone (an indirect call at every loop header) made
 * decoding three times slower. glue.c itself is not instrumented.
 */
__attribute__((import_module("huren"), import_name("check"))) void hl_host_check(void);
static unsigned hl_calls;
void __cyg_profile_func_enter_bare(void) {
    if ((++hl_calls & 1023) == 0) hl_host_check();
}

/* Result of the last hl_decode, read by the host through hl_result. */
struct hl_result {
    uint32_t out;      /* pointer to the samples (module memory) */
    uint32_t out_len;  /* bytes at out */
    int32_t prec;      /* precision of component 0 */
    int32_t sgnd;      /* signedness of component 0 */
    char err[256];     /* first OpenJPEG error message */
};
static struct hl_result result;

EXPORT(hl_malloc) void* hl_malloc(size_t n) { return malloc(n); }
EXPORT(hl_free) void hl_free(void* p) { free(p); }
EXPORT(hl_result) struct hl_result* hl_result(void) { return &result; }

static opj_image_t* kept_img;
static unsigned char* kept_dst;

/* hl_release frees what the last successful hl_decode kept for the host. */
EXPORT(hl_release) void hl_release(void) {
    if (kept_img) opj_image_destroy(kept_img);
    free(kept_dst);
    kept_img = NULL;
    kept_dst = NULL;
}

typedef struct { const unsigned char* p; OPJ_SIZE_T n; OPJ_SIZE_T off; } hl_mem;

static OPJ_SIZE_T hl_read(void* buf, OPJ_SIZE_T n, void* ud) {
    hl_mem* m = (hl_mem*)ud;
    if (m->off >= m->n) return (OPJ_SIZE_T)-1;
    OPJ_SIZE_T k = m->n - m->off;
    if (k > n) k = n;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return k;
}
static OPJ_OFF_T hl_skip(OPJ_OFF_T n, void* ud) {
    hl_mem* m = (hl_mem*)ud;
    if (n < 0) { if ((OPJ_SIZE_T)(-n) > m->off) n = -(OPJ_OFF_T)m->off; }
    else if ((OPJ_SIZE_T)n > m->n - m->off) n = (OPJ_OFF_T)(m->n - m->off);
    m->off += n;
    return n;
}
static OPJ_BOOL hl_seek(OPJ_OFF_T n, void* ud) {
    hl_mem* m = (hl_mem*)ud;
    if (n < 0 || (OPJ_SIZE_T)n > m->n) return OPJ_FALSE;
    m->off = (OPJ_SIZE_T)n;
    return OPJ_TRUE;
}
static void hl_err(const char* msg, void* ud) {
    (void)ud;
    if (result.err[0] == 0) { strncpy(result.err, msg, sizeof result.err - 1); }
}
static void hl_quiet(const char* msg, void* ud) { (void)msg; (void)ud; }

/*
 * hl_decode: 0 ok; 1 header; 2 geometry mismatch; 3 decode; 4 unsupported
 * layout; 5 out of memory for the output. src/n is the codestream (raw J2K
 * or JP2), bps the output bytes per sample (1, 2 or 4), w/h/comps what the
 * DICOM header says. reserve, when non-zero, is malloc'd and freed once
 * the header matched so the heap grows in one step instead of many.
 */
EXPORT(hl_decode)
int hl_decode(const unsigned char* src, size_t n, int bps, int w, int h, int comps, size_t reserve) {
    hl_release();
    memset(&result, 0, sizeof result);
    hl_mem m = { src, n, 0 };
    OPJ_CODEC_FORMAT fmt = OPJ_CODEC_J2K;
    if (n >= 12 && memcmp(src + 4, "jP  ", 4) == 0) fmt = OPJ_CODEC_JP2;
    opj_codec_t* codec = opj_create_decompress(fmt);
    if (!codec) return 3;
    opj_set_error_handler(codec, hl_err, NULL);
    opj_set_warning_handler(codec, hl_quiet, NULL);
    opj_set_info_handler(codec, hl_quiet, NULL);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    int rc = 0;
    opj_image_t* img = NULL;
    opj_stream_t* st = opj_stream_create(1 << 16, OPJ_TRUE);
    if (!st) { opj_destroy_codec(codec); return 3; }
    opj_stream_set_user_data(st, &m, NULL);
    opj_stream_set_user_data_length(st, n);
    opj_stream_set_read_function(st, hl_read);
    opj_stream_set_skip_function(st, hl_skip);
    opj_stream_set_seek_function(st, hl_seek);
    if (!opj_setup_decoder(codec, &params)) { rc = 1; goto out; }
    /* Strict: a truncated codestream is an error, not a silently blurred image. */
    opj_decoder_set_strict_mode(codec, OPJ_TRUE);
    if (!opj_read_header(st, codec, &img)) { rc = 1; goto out; }
    if ((int)(img->x1 - img->x0) != w || (int)(img->y1 - img->y0) != h || (int)img->numcomps != comps) { rc = 2; goto out; }
    if (reserve) {
        void* r = malloc(reserve);
        if (!r) { rc = 5; goto out; }
        free(r);
    }
    if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st)) { rc = 3; goto out; }
    for (int c = 0; c < comps; c++) {
        opj_image_comp_t* cp = &img->comps[c];
        if ((int)cp->w != w || (int)cp->h != h || cp->data == NULL || cp->dx != 1 || cp->dy != 1) { rc = 4; goto out; }
    }
    size_t px = (size_t)w * h;
    size_t dn = px * comps * bps;
    unsigned char* dst;
    if (comps == 1 && bps <= 4) {
        /* Narrow in place: sample i is written at i*bps <= 4*i, after it was read. */
        dst = (unsigned char*)img->comps[0].data;
    } else {
        dst = malloc(dn);
        if (!dst) { rc = 5; goto out; }
    }
    result.prec = img->comps[0].prec;
    result.sgnd = img->comps[0].sgnd;
    for (int c = 0; c < comps; c++) {
        const OPJ_INT32* d = img->comps[c].data;
        if (bps == 1) {
            for (size_t i = 0; i < px; i++) dst[i * comps + c] = (unsigned char)d[i];
        } else if (bps == 2) {
            for (size_t i = 0; i < px; i++) { unsigned int v = (unsigned int)d[i]; unsigned char* o = dst + (i * comps + c) * 2; o[0] = v & 0xff; o[1] = (v >> 8) & 0xff; }
        } else {
            for (size_t i = 0; i < px; i++) { unsigned int v = (unsigned int)d[i]; unsigned char* o = dst + (i * comps + c) * 4; o[0] = v; o[1] = v >> 8; o[2] = v >> 16; o[3] = v >> 24; }
        }
    }
    result.out = (uint32_t)(uintptr_t)dst;
    result.out_len = (uint32_t)dn;
    /* img stays alive (dst may be its component buffer) until hl_release. */
    kept_img = img;
    kept_dst = dst == (unsigned char*)img->comps[0].data ? NULL : dst;
    opj_stream_destroy(st);
    opj_destroy_codec(codec);
    return 0;
out:
    if (img) opj_image_destroy(img);
    opj_stream_destroy(st);
    opj_destroy_codec(codec);
    return rc;
}
