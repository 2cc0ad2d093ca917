package scp

import (
	"fmt"

	"github.com/huren-health/huren/ecg"
)

// code is one Huffman code structure of section 2.
type code struct {
	prefix, total int  // prefix bits; total bits including an appended value
	mode          int  // 1: this code is a value; 0: switch to table `value`
	value         int  // base value (or table number when mode == 0)
	bits          uint // the prefix, stored least-significant bit first
}

// defaultTable is EN 1064's default Huffman table (section 2 holds 19999):
// 0 → 0, ±1..±8 in 3..10 bits, then two escapes followed by an 8- or 16-bit
// two's-complement value. Codes are written LSB first, as in the file.
var defaultTable = []code{
	{1, 1, 1, 0, 0},
	{3, 3, 1, 1, 1}, {3, 3, 1, -1, 5},
	{4, 4, 1, 2, 3}, {4, 4, 1, -2, 11},
	{5, 5, 1, 3, 7}, {5, 5, 1, -3, 23},
	{6, 6, 1, 4, 15}, {6, 6, 1, -4, 47},
	{7, 7, 1, 5, 31}, {7, 7, 1, -5, 95},
	{8, 8, 1, 6, 63}, {8, 8, 1, -6, 191},
	{9, 9, 1, 7, 127}, {9, 9, 1, -7, 383},
	{10, 10, 1, 8, 255}, {10, 10, 1, -8, 767},
	{10, 18, 1, 0, 511}, {10, 26, 1, 0, 1023},
}

const maxTables, maxCodes = 64, 512

func readHuffman(d []byte) ([][]code, error) {
	if len(d) < 2 {
		return nil, fmt.Errorf("scp: section 2: %w", ecg.ErrTruncated)
	}
	n := int(le.Uint16(d))
	if n == 19999 {
		return [][]code{defaultTable}, nil
	}
	if n == 0 || n > maxTables {
		return nil, fmt.Errorf("scp: section 2 declares %d Huffman tables: %w", n, ecg.ErrFormat)
	}
	p := 2
	tables := make([][]code, 0, n)
	for t := 0; t < n; t++ {
		if p+2 > len(d) {
			return nil, fmt.Errorf("scp: section 2 table %d: %w", t+1, ecg.ErrTruncated)
		}
		nc := int(le.Uint16(d[p:]))
		p += 2
		if nc == 0 || nc > maxCodes {
			return nil, fmt.Errorf("scp: Huffman table %d has %d codes: %w", t+1, nc, ecg.ErrFormat)
		}
		if p+9*nc > len(d) {
			return nil, fmt.Errorf("scp: Huffman table %d: %w", t+1, ecg.ErrTruncated)
		}
		tab := make([]code, nc)
		for i := range tab {
			c := d[p : p+9]
			tab[i] = code{prefix: int(c[0]), total: int(c[1]), mode: int(c[2]),
				value: int(int16(le.Uint16(c[3:]))), bits: uint(le.Uint32(c[5:]))}
			if tab[i].prefix < 1 || tab[i].prefix > 32 || tab[i].total < tab[i].prefix || tab[i].total-tab[i].prefix > 32 {
				return nil, fmt.Errorf("scp: Huffman table %d code %d: %d/%d bits: %w", t+1, i+1, c[0], c[1], ecg.ErrFormat)
			}
			p += 9
		}
		tables = append(tables, tab)
	}
	return tables, nil
}

type bitReader struct {
	b   []byte
	pos int // bit position
}

func (r *bitReader) bit() (uint, bool) {
	if r.pos >= 8*len(r.b) {
		return 0, false
	}
	v := uint(r.b[r.pos>>3]>>(7-uint(r.pos&7))) & 1
	r.pos++
	return v, true
}

// decodeHuffman decodes want values (want < 0: until the data ends).
func decodeHuffman(b []byte, tables [][]code, want int) ([]int64, error) {
	capHint := want
	if capHint < 0 {
		capHint = len(b) * 2
	}
	if capHint > 8*len(b)+1 {
		capHint = 8*len(b) + 1 // each value takes at least one bit
	}
	out := make([]int64, 0, capHint)
	r := &bitReader{b: b}
	tab := tables[0]
	for want < 0 || len(out) < want {
		var acc uint
		nbits := 0
		matched := false
		for !matched {
			bit, ok := r.bit()
			if !ok {
				if want < 0 {
					return out, nil
				}
				return nil, fmt.Errorf("Huffman data ends after %d of %d samples: %w", len(out), want, ecg.ErrTruncated)
			}
			acc |= bit << uint(nbits)
			nbits++
			if nbits > 32 {
				return nil, fmt.Errorf("no Huffman code matches at bit %d: %w", r.pos, ecg.ErrFormat)
			}
			for _, c := range tab {
				if c.prefix != nbits || c.bits != acc {
					continue
				}
				matched = true
				if c.mode == 0 {
					if c.value < 1 || c.value > len(tables) {
						return nil, fmt.Errorf("switch to Huffman table %d of %d: %w", c.value, len(tables), ecg.ErrFormat)
					}
					tab = tables[c.value-1]
					break
				}
				if extra := c.total - c.prefix; extra > 0 {
					var v uint64
					for k := 0; k < extra; k++ {
						bit, ok := r.bit()
						if !ok {
							return nil, fmt.Errorf("Huffman value cut after %d samples: %w", len(out), ecg.ErrTruncated)
						}
						v = v<<1 | uint64(bit)
					}
					// two's complement of `extra` bits
					if v&(1<<uint(extra-1)) != 0 {
						out = append(out, int64(v)-int64(1)<<uint(extra))
					} else {
						out = append(out, int64(v))
					}
				} else {
					out = append(out, int64(c.value))
				}
				break
			}
		}
	}
	return out, nil
}
