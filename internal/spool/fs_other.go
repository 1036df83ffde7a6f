//go:build !linux

package spool

func networkFS(string) bool { return false }
