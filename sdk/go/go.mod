module github.com/alloy-curated/alloy-curated/sdk/go

go 1.23
