package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A segment file is the magic, then records, each
//
//	length  uint32  of the payload
//	count   uint32  entries in the payload (for counting without decoding)
//	crc     uint32  Castagnoli CRC of the payload
//	payload [length]byte
//
// all little endian. Space is written with zeros ahead of the records, so
// a zero length ends the records. A crash can leave a torn last record;
// reading stops at the first record that is short or fails its CRC, which
// was never acknowledged (its sync had not returned).
const (
	magic      = "CSPOOL01"
	headerSize = 12
	// maxRecord bounds a record's length, so a corrupt header cannot make
	// the reader allocate gigabytes.
	maxRecord = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends one record of payload, holding count entries, to dst.
func appendRecord(dst []byte, count int, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(count))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// errTorn marks the end of a segment's readable records before its end.
var errTorn = errors.New("torn or corrupt record")

// readSegment calls fn with each intact record of the segment at path, in
// order. It returns the records and entries read, and errTorn (wrapped)
// when it stopped at a damaged record rather than at the end.
func readSegment(path string, fn func(count int, payload []byte) error) (records, entries int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != magic {
		return 0, 0, fmt.Errorf("%s: not a spool segment: %w", path, errTorn)
	}
	var hdr [headerSize]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return records, entries, nil
			}
			return records, entries, fmt.Errorf("%s: record %d: %w", path, records, errTorn)
		}
		n := binary.LittleEndian.Uint32(hdr[0:])
		if n == 0 {
			return records, entries, nil // the zeros written ahead
		}
		count := int(binary.LittleEndian.Uint32(hdr[4:]))
		sum := binary.LittleEndian.Uint32(hdr[8:])
		if n > maxRecord {
			return records, entries, fmt.Errorf("%s: record %d: length %d: %w", path, records, n, errTorn)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil || crc32.Checksum(payload, castagnoli) != sum {
			return records, entries, fmt.Errorf("%s: record %d: %w", path, records, errTorn)
		}
		if err := fn(count, payload); err != nil {
			return records, entries, err
		}
		records++
		entries += count
	}
}

// countEntries returns the entries of the intact records of a segment.
func countEntries(path string) int {
	_, n, _ := readSegment(path, func(int, []byte) error { return nil })
	return n
}
