package j2k

import "github.com/huren-health/huren/pixels"

// Decoder decodes JPEG 2000 and HTJ2K frames.
type Decoder struct{}

var _ pixels.Decoder = Decoder{}

// outPhotometric: OpenJPEG undoes the RCT/ICT, so those come out RGB.
func outPhotometric(p string) string {
	switch p {
	case "YBR_RCT", "YBR_ICT":
		return "RGB"
	}
	return p
}
