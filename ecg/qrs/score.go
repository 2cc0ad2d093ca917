package qrs

// Score is a beat-by-beat comparison in the ANSI/AAMI EC57 sense.
type Score struct {
	TP, FN, FP int
}

// Se is the sensitivity TP/(TP+FN) (1 when there are no reference beats).
func (s Score) Se() float64 {
	if s.TP+s.FN == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FN)
}

// PPV is the positive predictivity TP/(TP+FP) (1 when nothing was detected).
func (s Score) PPV() float64 {
	if s.TP+s.FP == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FP)
}

// Add sums two scores (gross statistics over records).
func (s Score) Add(o Score) Score { return Score{s.TP + o.TP, s.FN + o.FN, s.FP + o.FP} }

// Compare matches detections to reference beats (both sorted ascending): a
// detection within window samples of a reference is a true positive; each
// detection matches at most one reference, the nearest unmatched one.
func Compare(ref, det []int, window int) Score {
	var s Score
	j := 0
	for _, r := range ref {
		for j < len(det) && det[j] < r-window {
			j++ // too early for this and every later reference
			s.FP++
		}
		if j < len(det) && det[j] <= r+window {
			s.TP++
			j++
			continue
		}
		s.FN++
	}
	s.FP += len(det) - j
	return s
}

// Interval is a half-open span of samples [Start, End).
type Interval struct{ Start, End int }

// VFEpisodes returns the ventricular flutter/fibrillation episodes marked in
// reference annotations ("[" … "]"; an episode still open at the end runs to
// end). ANSI/AAMI EC57 leaves these episodes out of QRS detection scoring:
// flutter waves are not beats, and a detector's marks on them are neither
// right nor wrong. The episodes come from the reference alone, never from
// the detector.
func VFEpisodes(codes []string, samples []int, end int) []Interval {
	var out []Interval
	open := -1
	for i, c := range codes {
		switch c {
		case "[":
			if open < 0 {
				open = samples[i]
			}
		case "]":
			if open >= 0 {
				out = append(out, Interval{open, samples[i] + 1})
				open = -1
			}
		}
	}
	if open >= 0 {
		out = append(out, Interval{open, end})
	}
	return out
}

// Exclude returns the elements of sorted x outside every interval.
func Exclude(x []int, iv []Interval) []int {
	if len(iv) == 0 {
		return x
	}
	out := make([]int, 0, len(x))
	for _, v := range x {
		in := false
		for _, e := range iv {
			if v >= e.Start && v < e.End {
				in = true
				break
			}
		}
		if !in {
			out = append(out, v)
		}
	}
	return out
}
