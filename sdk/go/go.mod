module github.com/grafana/alloy/curated/sdk/go

go 1.23
