// Command alloy-custom is stock Grafana Alloy with the loki.source.curated_api
// component compiled in.
package main

import (
	"os"

	"github.com/grafana/alloy/flowcmd"

	// Register loki.source.curated_api alongside the stock components.
	_ "github.com/grafana/alloy/curated/component/curatedapi"
)

func main() {
	if err := flowcmd.RootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
