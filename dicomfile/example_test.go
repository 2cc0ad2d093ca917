package dicomfile_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/huren-health/huren/dicomfile"
)

// Parse an upload, apply the ingest checks, and locate frame 1 for a range read.
func Example() {
	fh, err := os.Open("testdata/corpus/dicom/modality/CT_small.dcm")
	if err != nil {
		panic(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	f, err := dicomfile.Parse(fh, st.Size(), dicomfile.Options{})
	if errors.Is(err, dicomfile.ErrTruncated) {
		fmt.Println("ask the sender to retry:", err)
		return
	}
	if err != nil {
		panic(err)
	}
	if err := dicomfile.Validate(f); err != nil {
		panic(err)
	}
	fmt.Println(f.SOPInstanceUID)
	fmt.Println(f.Dataset.String("00100010"), f.Dataset["7FE00010"].BulkDataURI)
	fr := f.Pixels.Frames[0][0]
	fmt.Printf("frame 1: %d bytes at offset %d\n", fr.Length, fr.Offset)
	// Output:
	// 1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322
	// CompressedSamples^CT1 7FE00010
	// frame 1: 32768 bytes at offset 6300
}
