package web_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/pixels/web"
)

// synthetic builds an explicit VR little endian file: rows×cols×frames,
// 16-bit MONOCHROME1 with a window, a private blob of privateBytes before
// the image attributes (a header longer than the first read) and padding
// after Pixel Data. Frame k holds values that differ from every other
// frame, so rendering the wrong frame shows.
func synthetic(rows, cols, frames, privateBytes int) []byte {
	var b bytes.Buffer
	el := func(g, e uint16, vr string, val []byte) {
		binary.Write(&b, binary.LittleEndian, [2]uint16{g, e})
		b.WriteString(vr)
		switch vr {
		case "OB", "OW":
			b.Write([]byte{0, 0})
			binary.Write(&b, binary.LittleEndian, uint32(len(val)))
		default:
			binary.Write(&b, binary.LittleEndian, uint16(len(val)))
		}
		b.Write(val)
	}
	u16 := func(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	el(0x0002, 0x0010, "UI", []byte("1.2.840.10008.1.2.1\x00"))
	el(0x0008, 0x0018, "UI", []byte("1.2.3.4.5.6\x00"))
	el(0x0009, 0x0010, "LO", []byte("HUREN TEST"))
	el(0x0009, 0x1000, "OB", bytes.Repeat([]byte{0xAB}, privateBytes))
	el(0x0028, 0x0002, "US", u16(1))
	el(0x0028, 0x0004, "CS", []byte("MONOCHROME1 "))
	el(0x0028, 0x0008, "IS", []byte(fmt.Sprintf("%-2d", frames)))
	el(0x0028, 0x0010, "US", u16(rows))
	el(0x0028, 0x0011, "US", u16(cols))
	el(0x0028, 0x0100, "US", u16(16))
	el(0x0028, 0x0101, "US", u16(12))
	el(0x0028, 0x0102, "US", u16(11))
	el(0x0028, 0x0103, "US", u16(0))
	el(0x0028, 0x1050, "DS", []byte("2000"))
	el(0x0028, 0x1051, "DS", []byte("3000"))
	px := make([]byte, 0, rows*cols*frames*2)
	for k := 0; k < frames; k++ {
		for y := 0; y < rows; y++ {
			for x := 0; x < cols; x++ {
				px = binary.LittleEndian.AppendUint16(px, uint16((x*5+y*3+k*977)%4096))
			}
		}
	}
	el(0x7FE0, 0x0010, "OW", px)
	el(0xFFFC, 0xFFFC, "OB", make([]byte, 16))
	return b.Bytes()
}

func stageCount(t *testing.T, reg *prometheus.Registry, stage string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "huren_pixels_stage_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" && l.GetValue() == stage {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestRenderedStreamed: a native grey frame with a window is rendered
// while it is read from storage (nothing decoded, the original never
// cached), and the bytes served are exactly those of the path that renders
// the parsed instance's decoded frame.
func TestRenderedStreamed(t *testing.T) {
	f := newFixture(t, nil)
	f.putBytes("bigheader", synthetic(300, 250, 1, 200<<10), study+".9", study+".9.1", "site-a")
	f.putBytes("3frames", synthetic(512, 512, 3, 0), study+".9", study+".9.2", "site-a")
	f.putBytes("9frames", synthetic(512, 512, 9, 0), study+".9", study+".9.3", "site-a")
	f.putBytes("large", synthetic(1011, 1203, 1, 0), study+".9", study+".9.4", "site-a")
	for i, name := range []string{"modality/CR-MONO1-10-chest", "modality/mlut_18.dcm", "modality/vlut_04.dcm"} {
		f.put(name, study+".10", fmt.Sprintf("%s.10.%d", study, i+1), "site-a")
	}
	ct := f.instPath("modality/CT1_UNC.explicit_little_endian.dcm")
	cases := []struct {
		path, accept string
		streamed     bool
	}{
		{ct + "/rendered?window=40,400", "", true},
		{ct + "/rendered?window=40,400,sigmoid&viewport=64,64", "image/png", true},
		{ct + "/rendered?window=-600,1500&viewport=300,300&quality=70", "", true},
		{ct + "/thumbnail?window=40,400", "", true},
		{ct + "/rendered", "", true}, // no window anywhere: VOI from the pixel range (read twice)
		{f.instPath("modality/CR-MONO1-10-chest") + "/rendered?viewport=100,100", "", true},
		{f.instPath("modality/CR-MONO1-10-chest") + "/rendered?window=500,1000", "image/png", true},
		{f.instPath("modality/mlut_18.dcm") + "/rendered?viewport=100,100&window=2048,4096", "", true},
		{f.instPath("modality/vlut_04.dcm") + "/rendered", "", true},                 // VOI LUT from the file
		{f.instPath("modality/CT_small.dcm") + "/rendered?window=40,400", "", false}, // small: parsed whole
		{f.instPath("modality/emri_small_jpeg_ls_lossless.dcm") + "/thumbnail?window=100,200", "", false},
		{f.instPath("bigheader") + "/rendered", "", true},
		{f.instPath("bigheader") + "/rendered?viewport=50,50", "image/png", true},
		{f.instPath("3frames") + "/thumbnail", "", true}, // frame 2: after the first read
		{f.instPath("9frames") + "/thumbnail", "", true}, // frame 5: a range read
		{f.instPath("9frames") + "/rendered", "image/png", true},
		{f.instPath("large") + "/rendered", "", true}, // JPEG encoded in strips while read
		{f.instPath("large") + "/rendered?quality=60", "", true},
		{f.instPath("large") + "/rendered?viewport=2000,2000", "", true}, // Catmull-Rom upscale
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h, err := web.New(web.Config{Store: f.store, Locator: f.cat, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			f.mount(h)
			got := f.get(tc.path, tc.accept)
			if got.Code != 200 {
				t.Fatalf("status %d: %s", got.Code, got.Body.String())
			}
			if streamed := stageCount(t, reg, "decode") == 0; streamed != tc.streamed {
				t.Errorf("streamed = %v, want %v", streamed, tc.streamed)
			}
			// Reference: the instance parsed first (a viewer fetched its
			// frames), so the decoded frame is rendered.
			ref, err := web.New(web.Config{Store: f.store, Locator: f.cat})
			if err != nil {
				t.Fatal(err)
			}
			f.mount(ref)
			inst := tc.path[:bytes.LastIndexByte([]byte(tc.path), '/')]
			if w := f.get(inst+"/frames/1", ""); w.Code != 200 {
				t.Fatalf("frames: %d %s", w.Code, w.Body.String())
			}
			want := f.get(tc.path, tc.accept)
			if want.Code != 200 || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("streamed rendering (%d bytes) differs from the decoded frame's (%d bytes, status %d)", got.Body.Len(), want.Body.Len(), want.Code)
			}
		})
	}
}
