package web

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// A frame list is deduplicated and bounded: 2,000 repeats of one frame in a
// URL answered a gigabyte before.
func TestParseFramesDedupesAndBounds(t *testing.T) {
	for _, tc := range []struct {
		list  string
		count int
		want  []int
		err   error
	}{
		{"1,3,5", 5, []int{1, 3, 5}, nil},
		{"3,1,3,1,3", 5, []int{3, 1}, nil},
		{strings.Repeat("1,", 2000) + "1", 1, []int{1}, nil},
		{strings.Repeat("1,", MaxFrameList) + "1", 1, nil, ErrBadRequest},
		{"0", 1, nil, ErrBadRequest},
		{"x", 1, nil, ErrBadRequest},
	} {
		got, err := parseFrames(tc.list, tc.count)
		if !slices.Equal(got, tc.want) || tc.err != nil && !errors.Is(err, tc.err) || tc.err == nil && err != nil {
			t.Errorf("%.20q (count %d): %v, %v; want %v, %v", tc.list, tc.count, got, err, tc.want, tc.err)
		}
	}
}
