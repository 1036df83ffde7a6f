package spool

import (
	"os"
	"syscall"
)

// datasync flushes f's data, not its metadata: enough for bytes written
// inside the file's existing size.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
