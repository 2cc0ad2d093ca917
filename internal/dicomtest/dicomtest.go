// Package dicomtest builds small, valid DICOM Part 10 files for tests and
// benchmarks that need many distinct instances (the shared corpus has few
// series, and a test must choose its own UIDs).
package dicomtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// CT encodes a complete CT Image Storage instance (Explicit VR Little
// Endian) of the given study and series, instance number num, with
// size×size 16-bit signed pixels (a ramp shifted by num, so instances
// differ), a UTF-8 Chinese patient name and description, and the geometry
// and window a viewer needs. Its SOP Instance UID is series + "." + num.
func CT(study, series string, num, size int) []byte {
	us := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	sop := fmt.Sprintf("%s.%d", series, num)
	const ctClass = "1.2.840.10008.5.1.4.1.1.2"
	var ds bytes.Buffer
	el(&ds, 0x0008, 0x0005, "CS", []byte("ISO_IR 192"))
	el(&ds, 0x0008, 0x0016, "UI", []byte(ctClass))
	el(&ds, 0x0008, 0x0018, "UI", []byte(sop))
	el(&ds, 0x0008, 0x0020, "DA", []byte("20261123"))
	el(&ds, 0x0008, 0x0030, "TM", []byte("101010"))
	el(&ds, 0x0008, 0x0060, "CS", []byte("CT"))
	el(&ds, 0x0008, 0x1030, "LO", []byte("CT 胸部平扫"))
	el(&ds, 0x0010, 0x0010, "PN", []byte("Zhang^San=张^三"))
	el(&ds, 0x0010, 0x0020, "LO", []byte("BENCH001"))
	el(&ds, 0x0018, 0x0050, "DS", []byte("1.25"))
	el(&ds, 0x0020, 0x000D, "UI", []byte(study))
	el(&ds, 0x0020, 0x000E, "UI", []byte(series))
	el(&ds, 0x0020, 0x0011, "IS", []byte("1"))
	el(&ds, 0x0020, 0x0013, "IS", []byte(fmt.Sprint(num)))
	el(&ds, 0x0020, 0x0032, "DS", []byte(fmt.Sprintf("-250\\-250\\%d", -num)))
	el(&ds, 0x0020, 0x0037, "DS", []byte("1\\0\\0\\0\\1\\0"))
	el(&ds, 0x0028, 0x0002, "US", us(1))
	el(&ds, 0x0028, 0x0004, "CS", []byte("MONOCHROME2"))
	el(&ds, 0x0028, 0x0010, "US", us(uint16(size)))
	el(&ds, 0x0028, 0x0011, "US", us(uint16(size)))
	el(&ds, 0x0028, 0x0030, "DS", []byte("0.7\\0.7"))
	el(&ds, 0x0028, 0x0100, "US", us(16))
	el(&ds, 0x0028, 0x0101, "US", us(16))
	el(&ds, 0x0028, 0x0102, "US", us(15))
	el(&ds, 0x0028, 0x0103, "US", us(1))
	el(&ds, 0x0028, 0x1050, "DS", []byte("40"))
	el(&ds, 0x0028, 0x1051, "DS", []byte("400"))
	el(&ds, 0x0028, 0x1052, "DS", []byte("-1024"))
	el(&ds, 0x0028, 0x1053, "DS", []byte("1"))
	px := make([]byte, size*size*2)
	for i := 0; i < len(px); i += 2 {
		binary.LittleEndian.PutUint16(px[i:], uint16((i/2+num)%2048))
	}
	el(&ds, 0x7FE0, 0x0010, "OW", px)

	var meta bytes.Buffer
	el(&meta, 0x0002, 0x0001, "OB", []byte{0, 1})
	el(&meta, 0x0002, 0x0002, "UI", []byte(ctClass))
	el(&meta, 0x0002, 0x0003, "UI", []byte(sop))
	el(&meta, 0x0002, 0x0010, "UI", []byte("1.2.840.10008.1.2.1"))
	el(&meta, 0x0002, 0x0012, "UI", []byte("2.25.1"))
	var f bytes.Buffer
	f.Write(make([]byte, 128))
	f.WriteString("DICM")
	el(&f, 0x0002, 0x0000, "UL", binary.LittleEndian.AppendUint32(nil, uint32(meta.Len())))
	f.Write(meta.Bytes())
	f.Write(ds.Bytes())
	return f.Bytes()
}

// el writes one explicit-VR little-endian element, padded to even length.
func el(buf *bytes.Buffer, g, e uint16, vr string, val []byte) {
	if len(val)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" || vr == "OB" {
			pad = 0
		}
		val = append(val, pad)
	}
	binary.Write(buf, binary.LittleEndian, g)
	binary.Write(buf, binary.LittleEndian, e)
	buf.WriteString(vr)
	switch vr {
	case "OB", "OW", "SQ", "UN", "UT":
		buf.Write([]byte{0, 0})
		binary.Write(buf, binary.LittleEndian, uint32(len(val)))
	default:
		binary.Write(buf, binary.LittleEndian, uint16(len(val)))
	}
	buf.Write(val)
}
