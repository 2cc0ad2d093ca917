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
