package pii

import "sync"

// Writing tricks that hide a value from an ASCII scanner: no-break and
// other Unicode spaces, dash variants, fullwidth digits, letters and '@',
// zero-width characters. Find scans a normalized copy of text holding any
// of them and maps matches back, so the stored text of a value with nothing
// to redact is never changed.

// normalizable marks the lead bytes of the sequences normalize rewrites.
// Hangul, kana and most scripts start with other bytes, so their text is
// scanned as it is.
var normalizable = func() (t [256]bool) {
	for _, c := range []byte{0xC2, 0xE2, 0xE3, 0xEF} {
		t[c] = true
	}
	return t
}()

// normalized is a scan copy of a text: text[k] stands for the original
// bytes from orig[k] up to orig[k+1] (orig has one more entry, the end).
type normalized struct {
	text []byte
	orig []int
}

var normalizedPool = sync.Pool{New: func() any { return new(normalized) }}

// normalize fills n from s; it returns false when nothing changed.
func (n *normalized) normalize(s string) bool {
	n.text, n.orig = n.text[:0], n.orig[:0]
	changed := false
	for i := 0; i < len(s); {
		c, size := normalizeAt(s, i)
		switch {
		case size == 0: // not a sequence we rewrite: copy one byte
			n.text = append(n.text, s[i])
			n.orig = append(n.orig, i)
			i++
			continue
		case c != 0:
			n.text = append(n.text, c)
			n.orig = append(n.orig, i)
		}
		changed = true // c == 0: removed (zero-width)
		i += size
	}
	n.orig = append(n.orig, len(s))
	return changed
}

// normalizeAt returns the ASCII byte the sequence at s[i] stands for (0 to
// drop it) and its length, or size 0 when s[i] starts no such sequence.
func normalizeAt(s string, i int) (byte, int) {
	if !normalizable[s[i]] || i+1 >= len(s) {
		return 0, 0
	}
	b1 := s[i+1]
	if s[i] == 0xC2 {
		switch b1 {
		case 0xA0: // no-break space
			return ' ', 2
		case 0xAD: // soft hyphen
			return 0, 2
		}
		return 0, 0
	}
	if i+2 >= len(s) {
		return 0, 0
	}
	b2 := s[i+2]
	switch s[i] {
	case 0xE2:
		switch {
		case b1 == 0x80 && b2 >= 0x80 && b2 <= 0x8A, b1 == 0x80 && b2 == 0xAF, b1 == 0x81 && b2 == 0x9F: // spaces
			return ' ', 3
		case b1 == 0x80 && b2 >= 0x8B && b2 <= 0x8D, b1 == 0x81 && b2 == 0xA0: // zero-width, word joiner
			return 0, 3
		case b1 == 0x80 && b2 >= 0x90 && b2 <= 0x95, b1 == 0x88 && b2 == 0x92: // hyphens and dashes, minus
			return '-', 3
		}
	case 0xE3:
		if b1 == 0x80 && b2 == 0x80 { // ideographic space
			return ' ', 3
		}
	case 0xEF:
		switch {
		case b1 == 0xBB && b2 == 0xBF: // zero-width no-break space
			return 0, 3
		case b1 == 0xBC && b2 >= 0x90 && b2 <= 0x99: // fullwidth digits
			return '0' + b2 - 0x90, 3
		case b1 == 0xBC && b2 >= 0xA1 && b2 <= 0xBA: // fullwidth A-Z
			return 'A' + b2 - 0xA1, 3
		case b1 == 0xBD && b2 >= 0x81 && b2 <= 0x9A: // fullwidth a-z
			return 'a' + b2 - 0x81, 3
		case b1 == 0xBC && b2 == 0xA0, b1 == 0xB9 && b2 == 0xAB: // fullwidth and small @
			return '@', 3
		case b1 == 0xBC:
			switch b2 {
			case 0x8B:
				return '+', 3
			case 0x8D:
				return '-', 3
			case 0x8E:
				return '.', 3
			case 0x88:
				return '(', 3
			case 0x89:
				return ')', 3
			case 0x9A:
				return ':', 3
			}
		}
	}
	return 0, 0
}
