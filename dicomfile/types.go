package dicomfile

import (
	"log/slog"

	"github.com/huren-health/huren/dicomjson"
)

// Options bounds the work Parse does on untrusted input. The zero value means
// the defaults.
type Options struct {
	// MaxHeaderBytes caps the bytes of non-bulk values read into memory
	// (everything but bulk data and pixel data). Default 64 MiB.
	MaxHeaderBytes int64
	// BulkThreshold: values of the binary VRs OB, OW, OF, OD, OL, OV and UN
	// longer than this many bytes become bulk references instead of
	// InlineBinary. Pixel Data is always bulk. Default 1024; negative means 0.
	BulkThreshold int
	// MaxInflatedBytes caps the inflated size of a Deflated Explicit VR Little
	// Endian dataset (zip-bomb guard). Default 1 GiB.
	MaxInflatedBytes int64
	// FallbackCharset is the Specific Character Set term assumed when a
	// dataset declares none, e.g. "GB18030" where devices are known to write
	// Chinese names without declaring it. Empty: the default repertoire
	// (bytes >= 0x80 read as UTF-8 when valid, else Latin-1).
	FallbackCharset string
	// Logger receives the stack of an internal error (a recovered panic);
	// nil means silent. Errors returned to the caller never carry stacks.
	Logger *slog.Logger
}

const (
	defaultMaxHeaderBytes   = 64 << 20
	defaultBulkThreshold    = 1024
	defaultMaxInflatedBytes = 1 << 30
)

func (o Options) withDefaults() Options {
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if o.BulkThreshold == 0 {
		o.BulkThreshold = defaultBulkThreshold
	} else if o.BulkThreshold < 0 {
		o.BulkThreshold = 0
	}
	if o.MaxInflatedBytes <= 0 {
		o.MaxInflatedBytes = defaultMaxInflatedBytes
	}
	return o
}

// File is the parsed form of one DICOM file. It is immutable once returned.
type File struct {
	// TransferSyntax is (0002,0010), or for files without File Meta the
	// syntax detected from the first bytes (Implicit/Explicit VR LE, Explicit BE).
	TransferSyntax string
	// TransferSyntaxDetected is true when TransferSyntax was not declared in
	// the file but inferred from its encoding.
	TransferSyntaxDetected bool
	// HasFileMeta is false for legacy files without preamble / group 0002.
	HasFileMeta bool

	SOPClassUID, SOPInstanceUID, StudyInstanceUID, SeriesInstanceUID string
	// SpecificCharacterSet is (0008,0005) of the top-level dataset as written.
	SpecificCharacterSet []string

	// Dataset holds every attribute of the top-level dataset except the File
	// Meta group 0002 (PS3.18 metadata excludes it; TransferSyntax carries the
	// one value callers need), strings decoded to UTF-8, sequences as nested
	// Datasets, bulk values as Element{VR, BulkDataURI: tag path}. The tag
	// path ("7FE00010", "00540016.0.00181072": tag, item index, tag, …) is
	// relative; callers prefix it with the instance's bulk data URL.
	Dataset dicomjson.Dataset
	// Meta is the File Meta Information (group 0002) as read, nil when the
	// file has none: Transfer Syntax, Source AE Title, implementation.
	Meta dicomjson.Dataset
	// Bulk lists every bulk element in file order.
	Bulk []BulkRef
	// Pixels describes the top-level Pixel Data; nil when the file has none.
	Pixels *PixelInfo

	// Deflated is true for Deflated Explicit VR Little Endian
	// (1.2.840.10008.1.2.1.99). Then every Offset in Bulk and Pixels refers
	// to the inflated stream produced by InflatedReader, not to the stored
	// bytes, and cannot be served with a range read of the original.
	Deflated bool
	// DatasetOffset is where the dataset (after File Meta) starts in the file.
	DatasetOffset int64
	// Size is the number of bytes of the file that Parse consumed (the
	// logical, inflated size for deflated files).
	Size int64
}

// BulkRef locates one bulk value in the file bytes.
type BulkRef struct {
	TagPath string // as in Element.BulkDataURI
	VR      string
	// Offset and Length of the value bytes (after the element header). For
	// encapsulated Pixel Data this spans the items through the Sequence
	// Delimitation Item.
	Offset, Length int64
	// Encapsulated is true for an undefined-length Pixel Data value
	// (fragments in items).
	Encapsulated bool
}

// PixelInfo describes the top-level Pixel Data (7FE0,0010), or Float /
// Double Float Pixel Data (7FE0,0008 / 7FE0,0009) when that is what the
// file holds.
type PixelInfo struct {
	Rows, Columns, SamplesPerPixel, BitsAllocated, BitsStored, HighBit int
	PixelRepresentation, PlanarConfiguration, NumberOfFrames           int
	PhotometricInterpretation                                          string
	// Encapsulated is true for compressed (fragmented) Pixel Data.
	Encapsulated bool
	// BigEndian is true when native data is stored big-endian (Explicit VR
	// Big Endian): the caller must swap OW words to serve little-endian frames.
	BigEndian bool
	// FrameLength is the byte length of one native frame (0 if encapsulated).
	// With BitsAllocated 1 frames need not start on byte boundaries; then
	// Frames holds the byte ranges covering each frame and FrameBitOffset
	// the bit offset of each frame's first pixel within its first byte.
	FrameLength int64
	// Frames holds, per frame, the byte ranges in the file that make it up:
	// one range for native data, the frame's fragments (in order) for
	// encapsulated data. Nil when the frames cannot be located; then
	// FramesErr says why.
	Frames         [][]ByteRange
	FrameBitOffset []int
	FramesErr      error
}

// ByteRange is a span of file bytes.
type ByteRange struct{ Offset, Length int64 }
