package dicomfile

import (
	"errors"
	"fmt"
)

// Validate applies the ingest-time checks to a parsed file: the four
// identifying UIDs are present and syntactically valid (PS3.5 9.1), and when
// there is Pixel Data its frames could be located (native length matches the
// image attributes; encapsulated data yields Number of Frames frames).
// It returns all problems joined (errors.Is works for each).
func Validate(f *File) error {
	var errs []error
	for _, u := range []struct{ name, tag, v string }{
		{"SOP Class UID", "(0008,0016)", f.SOPClassUID},
		{"SOP Instance UID", "(0008,0018)", f.SOPInstanceUID},
		{"Study Instance UID", "(0020,000D)", f.StudyInstanceUID},
		{"Series Instance UID", "(0020,000E)", f.SeriesInstanceUID},
	} {
		if u.v == "" {
			errs = append(errs, fmt.Errorf("%w: %s %s is missing; the sending device must fill it in", ErrMissingUID, u.name, u.tag))
			continue
		}
		if err := CheckUID(u.v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s %s %q: %v", ErrBadUID, u.name, u.tag, u.v, err))
		}
	}
	if f.Pixels != nil && f.Pixels.FramesErr != nil {
		errs = append(errs, f.Pixels.FramesErr)
	}
	return errors.Join(errs...)
}

// CheckUID checks the UID syntax of PS3.5 9.1: at most 64 characters,
// digits in dot-separated components, no empty component. Leading zeros in a
// component are also forbidden by PS3.5 but common in real devices' UIDs
// (e.g. "999.999.01.23"); they are accepted because they are harmless as
// identifiers and rejecting them would lose studies.
func CheckUID(u string) error {
	if len(u) > 64 {
		return fmt.Errorf("is %d characters long, more than the 64 allowed", len(u))
	}
	start := 0
	for i := 0; i <= len(u); i++ {
		if i < len(u) && u[i] != '.' {
			if u[i] < '0' || u[i] > '9' {
				return fmt.Errorf("contains %q; only digits and dots are allowed", u[i])
			}
			continue
		}
		comp := u[start:i]
		if comp == "" {
			return fmt.Errorf("has an empty component at character %d", start+1)
		}
		start = i + 1
	}
	return nil
}
