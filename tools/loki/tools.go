//go:build tools

// Package tools pins the Loki server that end-to-end tests run against. Build
// it with `make loki`; nothing here is part of alloy-custom.
package tools

import (
	_ "github.com/grafana/loki/v3/cmd/loki"
)
