//go:build cgo

package jpegls

/*
#cgo pkg-config: charls
#include <stdlib.h>
#include <charls/charls.h>

// hl_decode decodes src into dst (dst_size bytes). It reports the frame
// header first (through *w,*h,*bps,*comps,*ilv) so Go can check it against
// the DICOM header before providing a buffer: call with dst == NULL to read
// the header only.
static int hl_header(const void* src, size_t n, uint32_t* w, uint32_t* h, int32_t* bps, int32_t* comps, int32_t* ilv) {
	charls_jpegls_decoder* d = charls_jpegls_decoder_create();
	if (!d) return -1;
	int rc = charls_jpegls_decoder_set_source_buffer(d, src, n);
	if (!rc) rc = charls_jpegls_decoder_read_header(d);
	charls_frame_info fi;
	if (!rc) rc = charls_jpegls_decoder_get_frame_info(d, &fi);
	charls_interleave_mode im = CHARLS_INTERLEAVE_MODE_NONE;
	if (!rc) rc = charls_jpegls_decoder_get_interleave_mode(d, &im);
	if (!rc) { *w = fi.width; *h = fi.height; *bps = fi.bits_per_sample; *comps = fi.component_count; *ilv = (int32_t)im; }
	charls_jpegls_decoder_destroy(d);
	return rc;
}

static int hl_decode(const void* src, size_t n, void* dst, size_t dn) {
	charls_jpegls_decoder* d = charls_jpegls_decoder_create();
	if (!d) return -1;
	int rc = charls_jpegls_decoder_set_source_buffer(d, src, n);
	if (!rc) rc = charls_jpegls_decoder_read_header(d);
	size_t need = 0;
	if (!rc) rc = charls_jpegls_decoder_get_destination_size(d, 0, &need);
	if (!rc && need > dn) rc = -2;
	if (!rc) rc = charls_jpegls_decoder_decode_to_buffer(d, dst, dn, 0);
	charls_jpegls_decoder_destroy(d);
	return rc;
}

static const char* hl_message(int rc) {
	if (rc == -1) return "cannot create decoder";
	if (rc == -2) return "decoded size larger than the DICOM header allows";
	return charls_get_error_message((charls_jpegls_errc)rc);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/huren-health/huren/pixels"
)

// Available reports whether this build has the codec.
const Available = true

// Decode decodes one JPEG-LS codestream into Frame layout.
func (Decoder) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	if len(src) < 4 {
		return nil, fmt.Errorf("jpeg-ls: frame of %d bytes: %w", len(src), pixels.ErrCorrupt)
	}
	var w, h C.uint32_t
	var bps, comps, ilv C.int32_t
	if rc := C.hl_header(unsafe.Pointer(&src[0]), C.size_t(len(src)), &w, &h, &bps, &comps, &ilv); rc != 0 {
		return nil, fmt.Errorf("jpeg-ls header: %s: %w", C.GoString(C.hl_message(rc)), pixels.ErrCorrupt)
	}
	if int(w) != info.Columns || int(h) != info.Rows || int(comps) != info.SamplesPerPixel {
		return nil, fmt.Errorf("jpeg-ls: codestream %d×%d×%d, header %d×%d×%d: %w", w, h, comps, info.Columns, info.Rows, info.SamplesPerPixel, pixels.ErrCorrupt)
	}
	if int(bps) > info.BitsAllocated || info.BitsAllocated > 16 {
		return nil, fmt.Errorf("jpeg-ls: %d-bit samples in %d-bit pixels: %w", bps, info.BitsAllocated, pixels.ErrCorrupt)
	}
	// CharLS writes 8-bit samples for bps <= 8 and 16-bit otherwise.
	cinfo := info
	if bps <= 8 {
		cinfo.BitsAllocated = 8
	} else {
		cinfo.BitsAllocated = 16
	}
	tmp := pixels.NewFrame(cinfo, info.Photometric)
	if rc := C.hl_decode(unsafe.Pointer(&src[0]), C.size_t(len(src)), unsafe.Pointer(&tmp.Data[0]), C.size_t(len(tmp.Data))); rc != 0 {
		return nil, fmt.Errorf("jpeg-ls: %s: %w", C.GoString(C.hl_message(rc)), pixels.ErrCorrupt)
	}
	return finish(tmp, info, int(ilv)), nil
}
