//go:build cgo && huren_openjpeg

// The native OpenJPEG decoder, opt-in with -tags huren_openjpeg (needs cgo
// and libopenjp2-7-dev): kept for the differential test against the wasm
// build and the side-by-side benchmark. Debian links the same OpenJPEG
// version (2.5.0-2+deb12u3) as the one wasm/build.sh compiles.

package j2k

/*
#cgo pkg-config: libopenjp2
#include <stdlib.h>
#include <string.h>
#include <openjpeg.h>

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
	char* buf = (char*)ud;
	if (buf[0] == 0) { strncpy(buf, msg, 255); buf[255] = 0; }
}
static void hl_quiet(const char* msg, void* ud) { (void)msg; (void)ud; }

// hl_header reads only the main header: 0 when the geometry matches w,h,comps.
static int hl_header(const unsigned char* src, size_t n, int w, int h, int comps, char* errbuf) {
	hl_mem m = { src, n, 0 };
	OPJ_CODEC_FORMAT fmt = OPJ_CODEC_J2K;
	if (n >= 12 && memcmp(src + 4, "jP  ", 4) == 0) fmt = OPJ_CODEC_JP2;
	opj_codec_t* codec = opj_create_decompress(fmt);
	if (!codec) return 3;
	opj_set_error_handler(codec, hl_err, errbuf);
	opj_set_warning_handler(codec, hl_quiet, NULL);
	opj_set_info_handler(codec, hl_quiet, NULL);
	opj_dparameters_t params;
	opj_set_default_decoder_parameters(&params);
	opj_image_t* img = NULL;
	int rc = 0;
	opj_stream_t* st = opj_stream_create(1 << 16, OPJ_TRUE);
	if (!st) { opj_destroy_codec(codec); return 3; }
	opj_stream_set_user_data(st, &m, NULL);
	opj_stream_set_user_data_length(st, n);
	opj_stream_set_read_function(st, hl_read);
	opj_stream_set_skip_function(st, hl_skip);
	opj_stream_set_seek_function(st, hl_seek);
	if (!opj_setup_decoder(codec, &params) || !opj_read_header(st, codec, &img)) rc = 1;
	else if ((int)(img->x1 - img->x0) != w || (int)(img->y1 - img->y0) != h || (int)img->numcomps != comps) rc = 2;
	if (img) opj_image_destroy(img);
	opj_stream_destroy(st);
	opj_destroy_codec(codec);
	return rc;
}

// hl_decode: 0 ok; 1 header; 2 geometry mismatch; 3 decode; 4 unsupported
// layout. On success writes samples interleaved into dst (bps bytes each,
// little endian) and sets *mct when the codestream had a colour transform.
static int hl_decode(const unsigned char* src, size_t n, unsigned char* dst, size_t dn,
                     int bps, int w, int h, int comps, char* errbuf, int* outprec, int* outsgnd) {
	hl_mem m = { src, n, 0 };
	OPJ_CODEC_FORMAT fmt = OPJ_CODEC_J2K;
	if (n >= 12 && memcmp(src + 4, "jP  ", 4) == 0) fmt = OPJ_CODEC_JP2;
	opj_codec_t* codec = opj_create_decompress(fmt);
	if (!codec) return 3;
	opj_set_error_handler(codec, hl_err, errbuf);
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
	// Strict: a truncated codestream is an error, not a silently blurred image.
	opj_decoder_set_strict_mode(codec, OPJ_TRUE);
	if (!opj_read_header(st, codec, &img)) { rc = 1; goto out; }
	if ((int)(img->x1 - img->x0) != w || (int)(img->y1 - img->y0) != h || (int)img->numcomps != comps) { rc = 2; goto out; }
	if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st)) { rc = 3; goto out; }
	for (int c = 0; c < comps; c++) {
		opj_image_comp_t* cp = &img->comps[c];
		if ((int)cp->w != w || (int)cp->h != h || cp->data == NULL || cp->dx != 1 || cp->dy != 1) { rc = 4; goto out; }
	}
	if ((size_t)w * h * comps * bps > dn) { rc = 2; goto out; }
	*outprec = img->comps[0].prec;
	*outsgnd = img->comps[0].sgnd;
	size_t px = (size_t)w * h;
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
out:
	if (img) opj_image_destroy(img);
	opj_stream_destroy(st);
	opj_destroy_codec(codec);
	return rc;
}
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/huren-health/huren/pixels"
)

// DecodeContext decodes with the native OpenJPEG library; ctx is only
// checked before starting (a cgo call cannot be interrupted).
func (Decoder) DecodeContext(ctx context.Context, src []byte, info pixels.Info) (*pixels.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jpeg 2000: %w", err)
	}
	return decodeOpenJPEG(src, info)
}

// decodeOpenJPEG decodes one JPEG 2000 / HTJ2K codestream into Frame layout.
func decodeOpenJPEG(src []byte, info pixels.Info) (*pixels.Frame, error) {
	if len(src) < 12 {
		return nil, fmt.Errorf("jpeg 2000: frame of %d bytes: %w", len(src), pixels.ErrCorrupt)
	}
	errbuf := (*C.char)(C.calloc(256, 1))
	defer C.free(unsafe.Pointer(errbuf))
	// Check the codestream's geometry before allocating the frame from
	// the DICOM header.
	rc := C.hl_header((*C.uchar)(unsafe.Pointer(&src[0])), C.size_t(len(src)), C.int(info.Columns), C.int(info.Rows), C.int(info.SamplesPerPixel), errbuf)
	if rc == 0 {
		f := pixels.NewFrame(info, outPhotometric(info.Photometric))
		return decodeInto(f, src, info, errbuf)
	}
	return nil, j2kError(int(rc), C.GoString(errbuf), info)
}

func decodeInto(f *pixels.Frame, src []byte, info pixels.Info, errbuf *C.char) (*pixels.Frame, error) {
	bps := f.BitsAllocated / 8
	var prec, sgnd C.int
	rc := C.hl_decode((*C.uchar)(unsafe.Pointer(&src[0])), C.size_t(len(src)), (*C.uchar)(unsafe.Pointer(&f.Data[0])), C.size_t(len(f.Data)),
		C.int(bps), C.int(info.Columns), C.int(info.Rows), C.int(info.SamplesPerPixel), errbuf, &prec, &sgnd)
	if rc == 0 {
		return f, nil
	}
	return nil, j2kError(int(rc), C.GoString(errbuf), info)
}
