package dicomfile

import (
	"errors"
	"fmt"
)

// Validate applies the ingest-time checks to a parsed file: the four
// identifying UIDs are present and syntactically valid (PS3.5 9.1), an image
// SOP Class has Pixel Data, and when there is Pixel Data its frames could be
// located (native length matches the image attributes; encapsulated data
// yields Number of Frames frames).
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
	if f.Pixels == nil && imageSOPClasses[f.SOPClassUID] {
		errs = append(errs, fmt.Errorf("%w: SOP Class %s is an image but the file has no Pixel Data (7FE0,0010): the pixels were stripped or the file was cut off; send the complete image",
			ErrBadPixelData, f.SOPClassUID))
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

// imageSOPClasses are the storage SOP Classes whose IODs require Pixel Data
// (or Float Pixel Data), so that a file of one of them without it is broken.
var imageSOPClasses = func() map[string]bool {
	m := map[string]bool{}
	for _, suffix := range []string{
		"1", "1.1", "1.1.1", "1.2", "1.2.1", "1.3", "1.3.1", // CR, DX, MG, IO
		"2", "2.1", "2.2", // CT, Enhanced CT, Legacy Converted Enhanced CT
		"3.1", "6.1", "6.2", // US Multi-frame, US, Enhanced US Volume
		"4", "4.1", "4.3", "4.4", // MR, Enhanced MR, Enhanced MR Color, Legacy Converted Enhanced MR
		"7", "7.1", "7.2", "7.3", "7.4", // Secondary Capture, multi-frame SC
		"12.1", "12.1.1", "12.2", "12.2.1", // XA, Enhanced XA, RF, Enhanced XRF
		"13.1.3", "13.1.4", "13.1.5", // breast tomosynthesis, projection
		"14.1", "14.2", // intravascular OCT
		"20", "128", "128.1", "130", // NM, PET, Legacy Converted Enhanced PET, Enhanced PET
		"30", "66.4", // Parametric Map, Segmentation
		"77.1.1", "77.1.1.1", "77.1.2", "77.1.2.1", "77.1.3", "77.1.4", "77.1.4.1", // VL images
		"77.1.5.1", "77.1.5.2", "77.1.5.4", "77.1.6", // ophthalmic, whole slide
		"481.1", // RT Image
	} {
		m["1.2.840.10008.5.1.4.1.1."+suffix] = true
	}
	return m
}()
