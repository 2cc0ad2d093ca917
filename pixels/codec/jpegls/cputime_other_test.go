//go:build !unix

package jpegls

func cpuTime() int64 { return 0 }
