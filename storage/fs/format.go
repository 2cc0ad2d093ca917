package fs

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk object format.
//
// Each object is one file under <root>/objects/<key>: a small header, then
// the content byte for byte. Keeping the metadata (size, SHA-256, content
// type) in the same file as the content is what makes Put atomic with a
// single rename(2) or link(2): a sidecar file would need a second rename and
// readers could pair new content with old metadata. The header has a fixed
// layout so Put can reserve it, stream the content, and fill it in once the
// hash is known:
//
//	offset  size  field
//	0       8     magic "HURENOB1"
//	8       4     header length H (big endian), including magic and CRC
//	12      8     content size (big endian)
//	20      32    SHA-256 of the content (raw bytes)
//	52      2     content type length L (big endian)
//	54      L     content type (UTF-8)
//	54+L    4     CRC-32C of bytes [0, 54+L)
//	H       size  content
//
// To get the plain bytes out of a file by hand: tail -c +$((H+1)) FILE.
const (
	magic         = "HURENOB1"
	fixedHeader   = 8 + 4 + 8 + 32 + 2
	maxHeader     = fixedHeader + maxContentType + 4
	headerCRCSize = 4
	// maxContentType bounds what a header may hold; MIME types with
	// parameters are far shorter.
	maxContentType = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the decoded metadata of one object file.
type header struct {
	size        int64
	sha256      [32]byte
	contentType string
}

func headerLen(contentType string) int64 {
	return int64(fixedHeader + len(contentType) + headerCRCSize)
}

func (h header) marshal() []byte {
	n := headerLen(h.contentType)
	b := make([]byte, n)
	copy(b, magic)
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	binary.BigEndian.PutUint64(b[12:], uint64(h.size))
	copy(b[20:52], h.sha256[:])
	binary.BigEndian.PutUint16(b[52:], uint16(len(h.contentType)))
	copy(b[54:], h.contentType)
	binary.BigEndian.PutUint32(b[n-4:], crc32.Checksum(b[:n-4], castagnoli))
	return b
}

func (h header) hexSHA256() string { return hex.EncodeToString(h.sha256[:]) }

var errCorrupt = errors.New("corrupt object header")

// readHeader reads and checks the header at the start of r and returns it
// with its length (the content's offset in the file).
func readHeader(r io.ReaderAt) (header, int64, error) {
	var fixed [fixedHeader]byte
	if _, err := r.ReadAt(fixed[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return header{}, 0, fmt.Errorf("%w: file shorter than a header", errCorrupt)
		}
		return header{}, 0, err
	}
	if string(fixed[:8]) != magic {
		return header{}, 0, fmt.Errorf("%w: bad magic %q", errCorrupt, fixed[:8])
	}
	n := int64(binary.BigEndian.Uint32(fixed[8:]))
	ctLen := int64(binary.BigEndian.Uint16(fixed[52:]))
	if ctLen > maxContentType || n != fixedHeader+ctLen+headerCRCSize {
		return header{}, 0, fmt.Errorf("%w: header length %d, content type length %d", errCorrupt, n, ctLen)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return header{}, 0, fmt.Errorf("%w: truncated header", errCorrupt)
		}
		return header{}, 0, err
	}
	if crc32.Checksum(b[:n-4], castagnoli) != binary.BigEndian.Uint32(b[n-4:]) {
		return header{}, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	h := header{
		size:        int64(binary.BigEndian.Uint64(b[12:])),
		contentType: string(b[54 : 54+ctLen]),
	}
	copy(h.sha256[:], b[20:52])
	if h.size < 0 {
		return header{}, 0, fmt.Errorf("%w: negative size", errCorrupt)
	}
	return h, n, nil
}
