package spool

import "syscall"

// networkFS reports whether path is on NFS (EFS mounts as NFSv4).
func networkFS(path string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return false
	}
	const nfsSuperMagic = 0x6969
	return st.Type == nfsSuperMagic
}
