package qrs

// Consensus runs Detect on every lead and returns the detections of the lead
// that agrees best with the others, and that lead's index. Agreement of lead
// i is the sum over the other leads j of the F1 overlap 2·matched/(nᵢ+nⱼ)
// (100 ms tolerance), so a noisy lead (extra beats) and a lead that misses
// beats both score low. With two leads agreement is symmetric and the first
// usable lead wins: callers list their preferred rhythm lead (II, MLII)
// first. Summing energy across leads instead lets one noisy electrode drive
// the beat list (measured on MIT-BIH 103 and 105).
func Consensus(leads [][]float64, fs float64) (beats []int, lead int) {
	prs := make([]*Prepared, len(leads))
	for i, l := range leads {
		prs[i] = Prepare(l, fs)
	}
	return ConsensusOf(prs, fs, Default)
}

// ConsensusOf is Consensus on prepared leads (nil entries are flat or short
// leads) with explicit parameters.
func ConsensusOf(prs []*Prepared, fs float64, p Params) (beats []int, lead int) {
	det := make([][]int, len(prs))
	for i, pr := range prs {
		det[i] = pr.Detect(p)
	}
	best := Best(det, fs)
	if best < 0 {
		return nil, -1
	}
	return det[best], best
}

// Best returns the index of the detection list that agrees best with the
// others (the Consensus criterion), or -1 when every list is empty.
func Best(det [][]int, fs float64) int {
	tol := int(0.1 * fs)
	best, bestScore := -1, -1.0
	for i := range det {
		if len(det[i]) == 0 {
			continue
		}
		score := 0.0
		for j := range det {
			if j == i || len(det[j]) == 0 {
				continue
			}
			m := 0
			for _, b := range det[i] {
				if near(det[j], b, tol) {
					m++
				}
			}
			score += 2 * float64(m) / float64(len(det[i])+len(det[j]))
		}
		// A strict improvement is required, so ties keep the earlier lead.
		if score > bestScore+1e-9 {
			best, bestScore = i, score
		}
	}
	return best
}

// near reports whether sorted s has a value within tol of v.
func near(s []int, v, tol int) bool {
	lo, hi := 0, len(s)
	for lo < hi {
		m := (lo + hi) / 2
		if s[m] < v-tol {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s) && s[lo] <= v+tol
}
