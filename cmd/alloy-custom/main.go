// Command alloy-custom is stock Grafana Alloy with the loki.source.curated_api
// and loki.curated_redact components compiled in.
package main

import (
	"os"

	"github.com/grafana/alloy/flowcmd"

	// Register our components alongside the stock ones.
	_ "github.com/grafana/alloy/curated/component/curatedapi"
	_ "github.com/grafana/alloy/curated/component/curatedredact"
)

func main() {
	if err := flowcmd.RootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
