//go:build tools

// Package tools pins the Alertmanager that `make up` and the alert tests run
// (the deployment runs the official image at the same version). Build it
// with `make alertmanager`; nothing here is part of alloy-custom.
package tools

import (
	_ "github.com/prometheus/alertmanager/cmd/alertmanager"
)
