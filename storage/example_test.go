package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

// Store an instance once, detect a re-send, and read a byte range back.
func Example() {
	dir, err := os.MkdirTemp("", "huren-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var s storage.Store
	s, err = fs.New(fs.Config{Root: dir}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	key := "studies/1.2.3/series/4.5/instances/6.7.dcm"
	info, err := s.PutIfAbsent(ctx, key, strings.NewReader("DICM and pixels"), storage.PutOptions{ContentType: "application/dicom"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, info.SHA256[:12], info.ContentType)

	// The same instance again: nothing is written, the stored Info comes back.
	again, err := s.PutIfAbsent(ctx, key, strings.NewReader("DICM and pixels"), storage.PutOptions{})
	fmt.Println(errors.Is(err, storage.ErrExists), again.SHA256 == info.SHA256)

	rc, err := s.GetRange(ctx, key, 9, 6)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Printf("%s\n", b)

	_, err = s.Stat(ctx, "studies/none")
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// 15 be97f5152473 application/dicom
	// true true
	// pixels
	// true
}
