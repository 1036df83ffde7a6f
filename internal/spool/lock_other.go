//go:build !unix

package spool

import (
	"errors"
	"os"
)

func tryLock(*os.File) (bool, error) {
	return false, errors.New("the durable spool needs file locks (flock), available on Unix systems only")
}
