package scp

import (
	"math"
	"os"
	"testing"

	"github.com/huren-health/huren/ecg/aecg"
)

// TestMatchesAECG: Example.scp is the Example_aECG.xml recording converted by
// ECGConversion (same subject, time, 500 Hz, 2.5 µV units). Identical samples
// in every lead verify the Huffman table, the second-difference decoding
// and the scaling independently of any oracle.
func TestMatchesAECG(t *testing.T) {
	b, err := os.ReadFile("testdata/Example.scp")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../aecg/testdata/Example_aECG.xml")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	x, err := aecg.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if s.FS != x.FS || s.Len() != x.Len() {
		t.Fatalf("scp fs %g n %d, aecg fs %g n %d", s.FS, s.Len(), x.FS, x.Len())
	}
	for _, l := range s.Leads {
		o := x.Lead(l.Name)
		if o == nil {
			t.Errorf("lead %s missing in aECG", l.Name)
			continue
		}
		diff := 0
		for i := range l.Samples {
			if math.Abs(l.Samples[i]-o.Samples[i]) > 1e-6 {
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("lead %s: %d of %d samples differ", l.Name, diff, len(l.Samples))
		}
	}
}
