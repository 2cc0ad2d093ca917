package jpeg

import (
	"fmt"

	"github.com/huren-health/huren/pixels"
)

// Extended decodes JPEG Extended (Process 2 & 4). 8-bit codestreams go
// through Baseline; 12-bit precision is not decoded yet and fails with a
// typed error naming the precision.
type Extended struct{}

var _ pixels.Decoder = Extended{}

// Decode decodes one extended-process codestream.
func (Extended) Decode(src []byte, info pixels.Info) (*pixels.Frame, error) {
	fh, err := scanSOF(src)
	if err != nil {
		return nil, err
	}
	if fh.precision == 8 {
		return Baseline{}.Decode(src, info)
	}
	return nil, fmt.Errorf("JPEG Extended with %d-bit precision: %w", fh.precision, pixels.ErrCodecUnavailable)
}

// scanSOF finds and parses the first SOF marker.
func scanSOF(src []byte) (*frameHeader, error) {
	if len(src) < 4 || src[0] != 0xFF || src[1] != 0xD8 {
		return nil, fmt.Errorf("jpeg: no SOI marker: %w", pixels.ErrCorrupt)
	}
	p := 2
	for p+1 < len(src) {
		if src[p] != 0xFF {
			p++
			continue
		}
		m := src[p+1]
		p += 2
		if m == 0xFF || m == 0x00 || (m >= 0xD0 && m <= 0xD8) || m == 0x01 {
			if m == 0xFF {
				p--
			}
			continue
		}
		seg, next, err := segment(src, p)
		if err != nil {
			return nil, err
		}
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return parseSOF(seg)
		}
		if m == 0xDA || m == 0xD9 {
			break
		}
		p = next
	}
	return nil, fmt.Errorf("jpeg: no SOF marker: %w", pixels.ErrCorrupt)
}
