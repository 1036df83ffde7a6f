package curated

import "runtime"

// Version is this SDK's version, sent in every request's User-Agent
// (alloy-curated-go/VERSION (goX.Y.Z)), so the API's logs tell which
// senders run which SDK.
const Version = "0.2.0"

var userAgent = "alloy-curated-go/" + Version + " (" + runtime.Version() + ")"
