package fs

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/huren-health/huren/storage"
)

// On-disk object format.
//
// Each object is one file under <root>/objects/<key>: a small header, then
// the content byte for byte. Keeping the metadata (size, SHA-256, content
// type, user metadata) in the same file as the content is what makes Put
// atomic with a single rename(2) or link(2): a sidecar file would need a
// second rename and readers could pair new content with old metadata. The
// header has a layout Put can compute before the content streams, so it
// reserves the space and fills the header in once the hash is known:
//
//	offset  size  field
//	0       8     magic "HURENOB1" (no user metadata) or "HURENOB2"
//	8       4     header length H (big endian), including magic and CRC
//	12      8     content size (big endian)
//	20      32    SHA-256 of the content (raw bytes)
//	52      2     content type length L (big endian)
//	54      L     content type (UTF-8)
//	                  HURENOB2 only:
//	54+L    2     user metadata length M (big endian)
//	56+L    M     "key=value\n" lines, sorted by key (storage.ValidateMetadata)
//	H-4     4     CRC-32C of bytes [0, H-4)
//	H       size  content
//
// Objects without user metadata keep the version 1 layout, so files written
// before version 2 existed and files written now without metadata are the
// same bytes. To get the plain bytes out of a file by hand:
// tail -c +$((H+1)) FILE.
const (
	magic1        = "HURENOB1"
	magic2        = "HURENOB2"
	fixedHeader   = 8 + 4 + 8 + 32 + 2
	headerCRCSize = 4
	// maxContentType bounds what a header may hold; MIME types with
	// parameters are far shorter.
	maxContentType = 1024
	// maxMetadata bounds the encoded user metadata (ValidateMetadata allows
	// 2 KiB of keys and values; "=" and "\n" add two bytes per pair).
	maxMetadata = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the decoded metadata of one object file.
type header struct {
	size        int64
	sha256      [32]byte
	contentType string
	meta        map[string]string
}

// encodeMeta renders user metadata as sorted "key=value\n" lines (keys and
// values were validated: no "=" in keys, no control characters anywhere).
func encodeMeta(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
		b.WriteByte('\n')
	}
	return b.String()
}

func decodeMeta(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	if !strings.HasSuffix(s, "\n") {
		return nil, fmt.Errorf("%w: user metadata not newline-terminated", errCorrupt)
	}
	m := map[string]string{}
	prev := ""
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		// Written sorted and unique: anything else was not written by Put.
		if !ok || k == "" || k <= prev {
			return nil, fmt.Errorf("%w: user metadata line %q", errCorrupt, line)
		}
		m[k], prev = v, k
	}
	if err := storage.ValidateMetadata(m); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return m, nil
}

// headerLen is the header size for a content type and encoded metadata.
func headerLen(contentType, meta string) int64 {
	n := int64(fixedHeader + len(contentType) + headerCRCSize)
	if meta != "" {
		n += 2 + int64(len(meta))
	}
	return n
}

func (h header) marshal() []byte {
	meta := encodeMeta(h.meta)
	n := headerLen(h.contentType, meta)
	b := make([]byte, n)
	copy(b, magic1)
	if meta != "" {
		copy(b, magic2)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	binary.BigEndian.PutUint64(b[12:], uint64(h.size))
	copy(b[20:52], h.sha256[:])
	binary.BigEndian.PutUint16(b[52:], uint16(len(h.contentType)))
	off := 54 + copy(b[54:], h.contentType)
	if meta != "" {
		binary.BigEndian.PutUint16(b[off:], uint16(len(meta)))
		copy(b[off+2:], meta)
	}
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
	v2 := false
	switch string(fixed[:8]) {
	case magic1:
	case magic2:
		v2 = true
	default:
		return header{}, 0, fmt.Errorf("%w: bad magic %q", errCorrupt, fixed[:8])
	}
	n := int64(binary.BigEndian.Uint32(fixed[8:]))
	ctLen := int64(binary.BigEndian.Uint16(fixed[52:]))
	metaRoom := int64(0)
	if v2 {
		metaRoom = 2 + maxMetadata
	}
	if ctLen > maxContentType || n < fixedHeader+ctLen+headerCRCSize || n > fixedHeader+ctLen+headerCRCSize+metaRoom || (!v2 && n != fixedHeader+ctLen+headerCRCSize) {
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
	if v2 {
		off := 54 + ctLen
		if off+2 > n-4 {
			return header{}, 0, fmt.Errorf("%w: no room for user metadata", errCorrupt)
		}
		mLen := int64(binary.BigEndian.Uint16(b[off:]))
		if off+2+mLen != n-4 || mLen == 0 {
			return header{}, 0, fmt.Errorf("%w: user metadata length %d in a %d-byte header", errCorrupt, mLen, n)
		}
		m, err := decodeMeta(string(b[off+2 : off+2+mLen]))
		if err != nil {
			return header{}, 0, err
		}
		h.meta = m
	}
	return h, n, nil
}
