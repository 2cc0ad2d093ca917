package dicomfile

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// BenchmarkParseCT is the ingest cost of one 512×512 16-bit CT slice
// (Explicit VR Little Endian, 257 attributes): the whole file is offered,
// pixel data is skipped, frames located.
func BenchmarkParseCT(b *testing.B) {
	data, err := os.ReadFile("testdata/corpus/dicom/modality/CT1_UNC.explicit_little_endian.dcm")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil || f.Pixels == nil || len(f.Pixels.Frames) != 1 {
			b.Fatalf("parse: %v", err)
		}
	}
}

// BenchmarkParseMultiframeJPEG: 8-frame fragmented JPEG without offset table
// (frames found by start markers).
func BenchmarkParseMultiframeJPEG(b *testing.B) {
	data, err := os.ReadFile("testdata/corpus/dicom/modality/IM00001.fragmented_no_bot_jpeg_baseline.50.dcm")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data), int64(len(data)), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseCTStream: the same slice from a non-seekable stream (a
// multipart part), so the 512 KiB of pixel data are read through, not sought.
func BenchmarkParseCTStream(b *testing.B) {
	data, err := os.ReadFile("testdata/corpus/dicom/modality/CT1_UNC.explicit_little_endian.dcm")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(struct{ io.Reader }{bytes.NewReader(data)}, int64(len(data)), Options{})
		if err != nil || f.Pixels == nil || len(f.Pixels.Frames) != 1 {
			b.Fatalf("parse: %v", err)
		}
	}
}
