//go:build cgo && huren_charls

// CharLS through cgo, only for the differential test and the side-by-side
// benchmark: go test -tags huren_charls (needs libcharls-dev).

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

// hl_encode encodes src (planar for interleave mode none, else pixel
// interleaved; 1 byte per sample up to 8 bits, else 2 little endian) into
// dst. pc holds MAXVAL, T1, T2, T3, RESET (0 = default).
static int hl_encode(const void* src, size_t n, void* dst, size_t dn, size_t* written,
                     uint32_t w, uint32_t h, int32_t bps, int32_t comps, int32_t near, int32_t ilv,
                     const int32_t* pc, int32_t xform) {
	charls_jpegls_encoder* e = charls_jpegls_encoder_create();
	if (!e) return -1;
	charls_frame_info fi = {w, h, bps, comps};
	charls_jpegls_pc_parameters p = {pc[0], pc[1], pc[2], pc[3], pc[4]};
	int rc = charls_jpegls_encoder_set_frame_info(e, &fi);
	if (!rc) rc = charls_jpegls_encoder_set_near_lossless(e, near);
	if (!rc) rc = charls_jpegls_encoder_set_interleave_mode(e, (charls_interleave_mode)ilv);
	if (!rc && (pc[0] || pc[1] || pc[2] || pc[3] || pc[4])) rc = charls_jpegls_encoder_set_preset_coding_parameters(e, &p);
	if (!rc && xform) rc = charls_jpegls_encoder_set_color_transformation(e, (charls_color_transformation)xform);
	if (!rc) rc = charls_jpegls_encoder_set_destination_buffer(e, dst, dn);
	if (!rc) rc = charls_jpegls_encoder_encode_from_buffer(e, src, n, 0);
	if (!rc) rc = charls_jpegls_encoder_get_bytes_written(e, written);
	charls_jpegls_encoder_destroy(e);
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
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/huren-health/huren/pixels"
)

// CharLS decodes JPEG-LS frames with CharLS; the output is the same Frame
// layout as Decoder's.
type CharLS struct{}

var _ pixels.Decoder = CharLS{}

// Decode decodes one JPEG-LS codestream into Frame layout.
func (CharLS) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
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

// charlsParams are the settings of a CharLS encode (tests only).
type charlsParams struct {
	width, height, bits, comps, near, ilv int
	pc                                    [5]int // MAXVAL, T1, T2, T3, RESET; 0 = default
	transform                             int
}

// charlsEncode encodes src with CharLS: planar for interleave mode none,
// else pixel interleaved; 1 byte per sample up to 8 bits, else 2 (little
// endian).
func charlsEncode(src []byte, p charlsParams) ([]byte, error) {
	dst := make([]byte, len(src)*2+4096)
	var pc [5]C.int32_t
	for i, v := range p.pc {
		pc[i] = C.int32_t(v)
	}
	var written C.size_t
	rc := C.hl_encode(unsafe.Pointer(&src[0]), C.size_t(len(src)), unsafe.Pointer(&dst[0]), C.size_t(len(dst)), &written,
		C.uint32_t(p.width), C.uint32_t(p.height), C.int32_t(p.bits), C.int32_t(p.comps), C.int32_t(p.near), C.int32_t(p.ilv),
		&pc[0], C.int32_t(p.transform))
	if rc != 0 {
		return nil, fmt.Errorf("charls encode %+v: %s", p, C.GoString(C.hl_message(rc)))
	}
	return dst[:written], nil
}

// finish converts CharLS output (planar for interleave mode none, native
// little endian samples) to Frame layout in the dataset's Bits Allocated.
func finish(tmp *pixels.Frame, info pixels.Info, ilv int) *pixels.Frame {
	px := info.Rows * info.Columns
	bps := tmp.BitsAllocated / 8
	if info.SamplesPerPixel == 3 && ilv == 0 {
		inter := make([]byte, len(tmp.Data))
		for s := 0; s < 3; s++ {
			for i := 0; i < px; i++ {
				copy(inter[(i*3+s)*bps:(i*3+s+1)*bps], tmp.Data[(s*px+i)*bps:(s*px+i+1)*bps])
			}
		}
		tmp.Data = inter
	}
	if tmp.BitsAllocated == info.BitsAllocated {
		return tmp
	}
	out := pixels.NewFrame(info, tmp.Photometric)
	n := px * info.SamplesPerPixel
	for i := 0; i < n; i++ {
		v := uint16(tmp.Data[i]) // 8-bit samples in a 16-bit container
		binary.LittleEndian.PutUint16(out.Data[2*i:], v)
	}
	return out
}
